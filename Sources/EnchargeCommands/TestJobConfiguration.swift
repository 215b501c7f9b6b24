import EnchargeRules
import WebhookSignatures

/// Everything `encharge-lua test` needs, already parsed from flags.
package struct TestJobConfiguration: Sendable {
    /// `--verify`: the signature check `serve --verify` makes before the rule runs.
    package struct Verification: Sendable {
        package var scheme: WebhookScheme
        /// The signing secret from `--secret-file`; never printed.
        package var secret: String
        package var options: WebhookVerificationOptions

        package init(scheme: WebhookScheme, secret: String, options: WebhookVerificationOptions) {
            self.scheme = scheme
            self.secret = secret
            self.options = options
        }
    }

    /// The rule and what it runs with (the flags of `run`); each fixture's settings and clock go
    /// over these.
    package var rule: RuleOptions
    /// Fixture files and folders from the command line; none means the `fixtures/` folder beside
    /// the rules file.
    package var fixtures: [String]
    /// `--update`: write each fixture's actual outcome into it instead of comparing.
    package var update: Bool
    package var verification: Verification?
    /// `--trace`: a block per fixture on stderr, with what the rule did line by line.
    package var trace: Bool

    package init(
        rule: RuleOptions, fixtures: [String], update: Bool, verification: Verification?, trace: Bool = false
    ) {
        self.rule = rule
        self.fixtures = fixtures
        self.update = update
        self.verification = verification
        self.trace = trace
    }
}
