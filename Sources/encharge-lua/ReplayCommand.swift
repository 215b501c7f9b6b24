import ArgumentParser
import EnchargeRules

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send dead-lettered events again, and re-map failed records through a fixed rule.",
        discussion: """
            Event entries are sent as they are; record entries are run through --rules and their \
            events sent. What fails again goes to a new dead-letter file (default: \
            NAME.retry.jsonl); the input file is never edited.
            """)

    @Argument(help: ArgumentHelp("A dead-letter file written by run.", valueName: "dead-letter.jsonl"))
    var deadLetterFile: String

    @Option(help: ArgumentHelp("The fixed rules file, for record entries.", valueName: "rules.lua"))
    var rules: String?

    @Option(help: ArgumentHelp("Where entries that fail again go.", valueName: "path"))
    var deadLetter: String?

    @Flag(help: "Print the events instead of sending them.")
    var dryRun = false

    @Flag(help: "No summary unless something failed.")
    var quiet = false

    @OptionGroup var ruleFlags: RuleFlags
    @OptionGroup var deliveryFlags: DeliveryFlags

    func run() throws {
        let job: ReplayJobConfiguration
        do {
            job = ReplayJobConfiguration(
                inputPath: deadLetterFile, rule: try rules.map { path throws(RuleLoadError) in try ruleFlags.options(rulesPath: path) },
                deadLetterPath: deadLetter ?? ReplayJobConfiguration.defaultOutput(for: deadLetterFile),
                dryRun: dryRun, quiet: quiet, delivery: dryRun ? nil : try deliveryFlags.configuration(),
                drainTimeout: deliveryFlags.drainTimeout)
        } catch {
            Diagnostics.write("error: \(error.description)")
            throw ExitCode(RunExitCode.usage)
        }
        let code = replayJob(job)
        if code != 0 { throw ExitCode(code) }
    }
}
