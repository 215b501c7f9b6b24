import EnchargeKit
import EnchargeRules
import RecordSources

/// Everything `encharge-lua run` needs, already parsed from flags and the environment.
package struct RunJobConfiguration: Sendable {
    package var rule: RuleOptions
    package var inputs: [InputSpec]
    package var dryRun: Bool
    /// Nil: failed records are only reported on stderr (a dry run without `--dead-letter`).
    package var deadLetterPath: String?
    package var failFast: Bool
    package var quiet: Bool
    /// Nil with `dryRun`.
    package var delivery: DeliveryConfiguration?
    /// Seconds in-flight requests may take to finish after an interrupt.
    package var drainTimeout: Double
    /// Lua states mapping at once, each on its own thread (`--jobs`); 1 maps on the calling
    /// thread. `--trace` maps on one whatever this says.
    package var jobs: Int
    /// `--spool`: commit the events to this spool (for `deliver` workers) instead of sending them.
    package var spool: SpoolOpening?

    package init(
        rule: RuleOptions, inputs: [InputSpec], dryRun: Bool, deadLetterPath: String?, failFast: Bool,
        quiet: Bool, delivery: DeliveryConfiguration?, drainTimeout: Double, jobs: Int = 1,
        spool: SpoolOpening? = nil
    ) {
        self.rule = rule
        self.inputs = inputs
        self.dryRun = dryRun
        self.deadLetterPath = deadLetterPath
        self.failFast = failFast
        self.quiet = quiet
        self.delivery = delivery
        self.drainTimeout = drainTimeout
        self.jobs = jobs
        self.spool = spool
    }
}
