import ArgumentParser
import EnchargeCommands
import EnchargeRules

struct TestCommand: ParsableCommand, ContextCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run a rule on fixtures (an input and the events it should make) and report what differs.",
        discussion: """
            A fixture is a JSON file holding an input ("record" for on_record, or "webhook" for \
            on_webhook and routes) and the outcome it expects ("events", "skip" or "error"; a webhook \
            also "status" and optionally "response"), with optional "settings", "now" (a fixed clock) \
            and "sign" (sign the request as a provider does). Without FIXTURE arguments the *.json \
            files of the fixtures/ folder beside the rules run, by name. Records run as run maps \
            them and webhooks are answered as serve answers them, with the same sandbox, budgets and \
            validation. Nothing is sent.

            Each fixture prints "ok" or "FAIL" and its path; under a failure, what differs \
            (events[1].properties.plan: expected "pro", got "free"). --update writes the actual \
            outcome into each fixture that does not expect it instead, leaving its input byte for byte \
            as it was, so a rule change is reviewed as a diff of the fixtures.

            EXIT CODES
              0    every fixture passed (or, with --update, was written)
              1    some fixtures failed
              2    usage error, the rule does not load or lacks the entry point the fixtures need, or a fixture is malformed

            EXAMPLES
              encharge-lua test rules.lua
              encharge-lua test rules.lua fixtures/paid.json --trace
              encharge-lua test rules.lua --update && git diff fixtures/
              encharge-lua test rules.lua --verify stripe --secret-file whsec.txt
            """)

    @Argument(help: ArgumentHelp("The rules file.", valueName: "rules.lua"))
    var rules: String

    @Argument(
        help: ArgumentHelp(
            "Fixture files or folders of them (default: the fixtures/ folder beside the rules).", valueName: "fixture"))
    var fixtures: [String] = []

    @Flag(
        help:
            "Write the actual outcome into each fixture that does not expect it, instead of failing it (its input stays as it is)."
    )
    var update = false

    @Flag(
        help:
            "Print a block per fixture on stderr: each event with the rule line that emitted it, log lines, skips, errors and the outcome."
    )
    var trace = false

    @OptionGroup(title: "Rule") var ruleFlags: RuleFlags
    @OptionGroup(title: "Webhooks") var verifyFlags: VerifyFlags

    func run() throws { try run(context: .process()) }

    func run(context: CommandContext) throws {
        let job = try context.configured { () throws(RuleLoadError) in
            TestJobConfiguration(
                rule: try ruleFlags.options(rulesPath: rules), fixtures: fixtures, update: update,
                verification: try verifyFlags.secret(warn: context.diagnostics.write).flatMap { secret in
                    verifyFlags.scheme.map {
                        TestJobConfiguration.Verification(scheme: $0, secret: secret, options: verifyFlags.options)
                    }
                }, trace: trace)
        }
        try testJob(job, context: context).exit()
    }
}
