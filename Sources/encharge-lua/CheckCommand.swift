import ArgumentParser
import EnchargeCommands
import EnchargeRules
import RecordSources

struct CheckCommand: ParsableCommand, ContextCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract:
            "Compile a rule, confirm its entry points and lint it; with --input, print the events a sample makes.",
        discussion: """
            Nothing is sent. Warnings (such as an assignment to an undeclared global) are printed \
            with their rules.lua line; with --input, each event the sample makes is printed as a \
            JSON line on stdout and each failed record on stderr.

            EXIT CODES
              0    the rule loads (and the sample, if any, mapped without a failure)
              1    the rule uses a name that does not exist, or the sample has failed
                   records
              2    usage error, or the rule does not compile or defines no entry point

            EXAMPLES
              encharge-lua check rules.lua
              encharge-lua check rules.lua --input sample.jsonl
              encharge-lua check rules.lua --input sample.jsonl --trace
              encharge-lua check rules.lua --input export.csv --set default_plan=starter
            """)

    @Argument(help: ArgumentHelp("The rules file.", valueName: "rules.lua"))
    var rules: String

    @Option(help: ArgumentHelp("A sample input (JSON lines, JSON or CSV) to map and print.", valueName: "sample"))
    var input: String?

    @Flag(
        help:
            "With --input, print a block per sample record on stderr: each event with the rule line that emitted it, log lines, skips, errors and the outcome."
    )
    var trace = false

    @OptionGroup(title: "Input") var inputFlags: InputFlags
    @OptionGroup(title: "Rule") var ruleFlags: RuleFlags

    func validate() throws {
        if let input {
            try inputFlags.validate(formats: [inputFlags.explicitFormat ?? InputFormat(path: input) ?? .jsonl])
        } else if trace {
            throw ValidationError("--trace shows what the rule does with the --input sample; pass --input too")
        } else if inputFlags.format != nil || inputFlags.delimiter != nil || inputFlags.recordsPath != nil {
            throw ValidationError(
                "--format, --delimiter and --records-path apply to the --input sample; pass --input too")
        }
    }

    func run() throws { try run(context: .process()) }

    func run(context: CommandContext) throws {
        let spec = input.map {
            InputSpec(path: $0, format: inputFlags.explicitFormat ?? InputFormat(path: $0) ?? .jsonl)
        }
        let sample = try spec.map { try inputFlags.apply(to: [$0], context: context)[0] }
        let options = try context.configured { () throws(RuleLoadError) in
            var options = try ruleFlags.options(rulesPath: rules, lintGlobals: true)
            options.trace = trace
            return options
        }
        try checkRule(options: options, sample: sample, context: context).exit()
    }
}
