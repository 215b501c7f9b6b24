import EnchargeRules

/// Everything `encharge-lua diff` needs, already parsed from flags.
package struct DiffJobConfiguration: Sendable {
    /// The rule as deployed: its outcomes are the `was` side.
    package var oldRule: RuleOptions
    /// The changed rule: its outcomes are the `now` side. Same budgets and settings as `oldRule`.
    package var newRule: RuleOptions
    /// The samples, run in this order: records files read once (each record through both rules),
    /// and fixture files and folders of them.
    package var inputs: [DiffJobInput]
    /// JSON lines on stdout instead of text blocks.
    package var json: Bool
    /// Exit 1 when any input's outcome changed.
    package var failOnChange: Bool

    package init(
        oldRule: RuleOptions, newRule: RuleOptions, inputs: [DiffJobInput], json: Bool,
        failOnChange: Bool
    ) {
        self.oldRule = oldRule
        self.newRule = newRule
        self.inputs = inputs
        self.json = json
        self.failOnChange = failOnChange
    }
}
