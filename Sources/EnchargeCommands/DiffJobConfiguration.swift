import EnchargeRules
import RecordSources

/// Everything `encharge-lua diff` needs, already parsed from flags.
package struct DiffJobConfiguration: Sendable {
    /// The rule as deployed: its outcomes are the `was` side.
    package var oldRule: RuleOptions
    /// The changed rule: its outcomes are the `now` side. Same budgets and settings as `oldRule`.
    package var newRule: RuleOptions
    /// Record inputs, read once; each record goes through both rules.
    package var inputs: [InputSpec]
    /// Fixture files and folders of them (the `test` format): their inputs go through both rules
    /// as `test` runs them, webhooks answered as `serve` answers.
    package var fixtures: [String]
    /// JSON lines on stdout instead of text blocks.
    package var json: Bool
    /// Exit 1 when any input's outcome changed.
    package var failOnChange: Bool

    package init(
        oldRule: RuleOptions, newRule: RuleOptions, inputs: [InputSpec], fixtures: [String], json: Bool,
        failOnChange: Bool
    ) {
        self.oldRule = oldRule
        self.newRule = newRule
        self.inputs = inputs
        self.fixtures = fixtures
        self.json = json
        self.failOnChange = failOnChange
    }
}
