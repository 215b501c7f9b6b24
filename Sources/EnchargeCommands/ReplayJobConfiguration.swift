import EnchargeKit
import EnchargeRules

/// What `encharge-lua replay` needs.
package struct ReplayJobConfiguration: Sendable {
    /// The dead-letter file to read; never written.
    package var inputPath: String
    /// The fixed rule for record entries; nil leaves record entries as they are.
    package var rule: RuleOptions?
    /// Where what fails again goes; nil: nowhere but stderr (a dry run without `--dead-letter`).
    package var deadLetterPath: String?
    package var dryRun: Bool
    package var quiet: Bool
    package var delivery: DeliveryConfiguration?
    package var drainTimeout: Double
    /// Only entries written by these runs (`--run-id`); empty: every entry.
    package var runIDs: Set<String>
    /// Lua states mapping record entries at once, each on its own thread (`--jobs`); 1 maps on
    /// the calling thread.
    package var jobs: Int

    package init(
        inputPath: String, rule: RuleOptions?, deadLetterPath: String?, dryRun: Bool, quiet: Bool,
        delivery: DeliveryConfiguration?, drainTimeout: Double, runIDs: Set<String> = [], jobs: Int = 1
    ) {
        self.inputPath = inputPath
        self.rule = rule
        self.deadLetterPath = deadLetterPath
        self.dryRun = dryRun
        self.quiet = quiet
        self.delivery = delivery
        self.drainTimeout = drainTimeout
        self.runIDs = runIDs
        self.jobs = jobs
    }

    /// `dead-letter.jsonl` → `dead-letter.retry.jsonl`.
    package static func defaultOutput(for input: String) -> String {
        let stem = input.hasSuffix(".jsonl") ? String(input.dropLast(6)) : input
        return stem + ".retry.jsonl"
    }
}
