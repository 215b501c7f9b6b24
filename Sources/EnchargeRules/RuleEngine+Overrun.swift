import LuaKit
import SystemKit

extension RuleEngine {
    /// What a job says when its `RuleWatchdog` gave a rule call up: the rule line (when known),
    /// how long the call ran and that `job` (`check`, `replay`) stops there.
    package func overrunMessage(runningSeconds: Double, job: String) -> String {
        overrunMessage(runningSeconds: runningSeconds, consequence: "the \(job) stops here")
    }

    /// The same for any `consequence` (what the host did about it: "the request was kept and its
    /// worker replaced").
    package func overrunMessage(runningSeconds: Double, consequence: String) -> String {
        let position = stuckRulePosition ?? options.rulesPath
        return "\(position): a call of the rule ran for \(formatSeconds(runningSeconds)), over "
            + "\(Int(RuleWatchdog.factor))× the time limit of \(formatSeconds(options.limits.seconds)), inside a "
            + "library function no limit can interrupt; \(consequence), so change the rule near this line"
    }
}
