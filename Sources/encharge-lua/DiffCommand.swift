import ArgumentParser
import EnchargeCommands
import EnchargeRules

struct DiffCommand: ParsableCommand, ContextCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Run an old and a new rule on the same inputs and show, per input, what the change alters.",
        discussion: """
            Each record is read once and mapped through both rules, with the same settings and \
            budgets; fixtures (the files of test: a folder of them, or a .json file holding a \
            "record" or "webhook" member, given to --input or --fixtures) run through both as test \
            runs them, webhooks answered as serve answers. Inputs run in the order given, those of \
            --fixtures last. Nothing is sent. For each input whose outcome changed, stdout gets its source \
            and the changes by path (events[1].properties.plan: was "pro", now "free"; \
            events[2]: added event "Paid invoice"; now fails: ...); the last line counts the inputs: \
            1,204 inputs: 1,180 unchanged, 20 changed, 4 newly failing. Paths index events and \
            arrays from 0; 1 and 1.0 are the same number. Inputs are JSON lines, JSON or CSV, as \
            for run; - reads stdin. Only counts are kept, so memory stays flat on any input size. \
            The rules' log.* lines below warn are not printed unless --log-level says otherwise.

            EXIT CODES
              0    the diff ran (with --fail-on-change: and nothing changed)
              1    something changed and --fail-on-change is given
              2    usage error, a rule that does not load, an input that cannot be
                   read, or a rule call stuck past twice its time limit

            EXAMPLES
              encharge-lua diff deployed.lua rules.lua --input signups.jsonl
              encharge-lua diff deployed.lua rules.lua --input export.csv --fail-on-change
              encharge-lua diff deployed.lua rules.lua --input fixtures/
              encharge-lua diff deployed.lua rules.lua --input - --json < sample.jsonl
            """)

    @Argument(help: ArgumentHelp("The rule as it is now (the was side).", valueName: "old.lua"))
    var oldRules: String

    @Argument(help: ArgumentHelp("The changed rule (the now side).", valueName: "new.lua"))
    var newRules: String

    @Option(
        name: .customLong("input"), parsing: .upToNextOption,
        help: ArgumentHelp(
            "Sample inputs run through both rules: records (JSON lines, JSON or CSV; - for stdin), fixture files or folders of them.",
            valueName: "sample"))
    var inputs: [String] = []

    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "Fixture files or folders of them (the test format), whatever their names; run after the --input samples.",
            valueName: "fixture"))
    var fixtures: [String] = []

    @Flag(help: "One JSON object per changed input, then the counts object, instead of text.")
    var json = false

    @Flag(help: "Exit 1 when any input's outcome changed.")
    var failOnChange = false

    @OptionGroup(title: "Input") var inputFlags: InputFlags
    @OptionGroup(title: "Rule") var ruleFlags: RuleFlags

    func validate() throws {
        guard !inputs.isEmpty || !fixtures.isEmpty else {
            throw ValidationError(
                "diff needs a sample to run both rules on; pass --input with a records file, -, or fixtures")
        }
    }

    func run() throws { try run(context: .process()) }

    func run(context: CommandContext) throws {
        // Each path is looked at once: a fixture-shaped one is not records, whatever its name.
        let namesFixtures = inputs.map(DiffJobInput.namesFixtures)
        let recordPaths = zip(inputs, namesFixtures).filter { !$0.1 }.map(\.0)
        do { try inputFlags.validate(paths: recordPaths) } catch let error as ValidationError {
            // Told here, not in validate(), so that each path is read once.
            context.diagnostics.write("error: \(error.message)")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        var specs = try inputFlags.specs(paths: recordPaths, context: context)[...]
        let samples =
            zip(inputs, namesFixtures).map { path, isFixture in
                isFixture ? DiffJobInput.fixtures(path) : .records(specs.removeFirst())
            } + fixtures.map(DiffJobInput.fixtures)
        let configuration = try context.configured { () throws(RuleLoadError) in
            DiffJobConfiguration(
                oldRule: try ruleFlags.options(rulesPath: oldRules, defaultLogLevel: .warn),
                newRule: try ruleFlags.options(rulesPath: newRules, defaultLogLevel: .warn),
                inputs: samples, json: json, failOnChange: failOnChange)
        }
        try diffJob(configuration, context: context).exit()
    }
}
