import EnchargeRules
import SystemKit

extension RuleOptions {
    /// These options with the rule's `log.*` lines going to `writer` (a job's stderr).
    package func logging(to writer: any OutputWriter) -> RuleOptions {
        var options = self
        options.logWriter = writer
        return options
    }
}
