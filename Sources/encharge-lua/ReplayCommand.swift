import ArgumentParser
import EnchargeCommands
import EnchargeRules
import RecordSources

struct ReplayCommand: AsyncParsableCommand, ContextCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send dead-lettered events again, and re-map failed records through a fixed rule.",
        discussion: """
            With a dead-letter file: event entries are sent as they are; record entries are run through --rules and their \
            events sent. What fails again is appended, under this replay's run id, to a dead-letter file \
            (default: NAME.retry.jsonl, created when missing; with --dry-run, none unless --dead-letter is \
            given); if the replay stops early (refused key, redirect, interrupt), the entries it did not \
            read are appended there too, so replaying that file with the printed --run-id sends them all. \
            The input file is never written, even under another name or through a link. --run-id ID \
            replays only the entries a given run wrote (each entry has a "run_id"). Entries written by a --dry-run \
            are refused (exit 1), and a line that is not an entry is reported and skipped (exit 1). \
            With --spool PATH or --spool postgres://URL: the spool's \
            dead events are re-queued (serve or deliver delivers them) and its kept failed requests run \
            again through --rules. The PostgreSQL password is read from --spool-password-file, else \
            from the URL, else from $PGPASSWORD, and never printed.

            EXIT CODES
              0    every entry delivered (or re-queued)
              1    some entries failed again
              2    usage, configuration or rule-load error, or the Ingest API refused the
                   write key or redirects elsewhere
              130  interrupted (Ctrl-C or SIGTERM)

            EXAMPLES
              encharge-lua replay dead-letter.jsonl
              encharge-lua replay dead-letter.jsonl --rules fixed.lua --dry-run
              encharge-lua replay dead-letter.retry.jsonl --run-id 20261130T061804Z-9f3c2a1b
              encharge-lua replay --spool encharge-spool.sqlite --rules fixed.lua
              PGPASSWORD=... encharge-lua replay --spool postgres://encharge@db/encharge
            """)

    @Argument(help: ArgumentHelp("A dead-letter file written by run.", valueName: "dead-letter.jsonl"))
    var deadLetterFile: String?

    @Option(
        help: ArgumentHelp(
            "Replay a spool instead (a SQLite file or a postgres:// URL): re-queue its dead events and re-run its kept failed requests through --rules.",
            valueName: "path-or-url"))
    var spool: String?

    @OptionGroup var spoolPassword: SpoolPasswordFlags

    @Option(help: ArgumentHelp("The fixed rules file, for record entries.", valueName: "rules.lua"))
    var rules: String?

    @Option(help: ArgumentHelp("Where entries that fail again are appended.", valueName: "path"))
    var deadLetter: String?

    @Option(
        help: ArgumentHelp(
            "Replay only the entries written by this run (their \"run_id\"); repeat for several runs.", valueName: "id")
    )
    var runId: [String] = []

    @Flag(help: "Print the events instead of sending them.")
    var dryRun = false

    @Flag(help: "No summary unless something failed.")
    var quiet = false

    @OptionGroup(title: "Mapping") var mappingFlags: MappingFlags
    @OptionGroup(title: "Rule") var ruleFlags: RuleFlags
    @OptionGroup(title: "Delivery") var deliveryFlags: DeliveryFlags

    func validate() throws {
        guard (deadLetterFile == nil) != (spool == nil) else {
            throw ValidationError("give either a dead-letter file or --spool PATH-OR-URL")
        }
        if spool != nil && !runId.isEmpty {
            throw ValidationError("--run-id applies to a dead-letter file, not to --spool")
        }
        if spool != nil && mappingFlags.jobs != nil {
            throw ValidationError(
                "--jobs applies to a dead-letter file, not to --spool (serve maps a spool's requests)")
        }
        if spool == nil && spoolPassword.spoolPasswordFile != nil {
            throw ValidationError("--spool-password-file applies only with --spool postgres://...")
        }
        if spool != nil && dryRun {
            throw ValidationError(
                "--dry-run does not apply to --spool (replaying a spool only re-queues; serve delivers)")
        }
    }

    func run() async throws { try await run(context: .process()) }

    func run(context: CommandContext) async throws {
        let rule = try context.configured { () throws(RuleLoadError) in
            try rules.map { path throws(RuleLoadError) in try ruleFlags.options(rulesPath: path) }
        }
        if let spool {
            let opening = try context.configured { () throws(RuleLoadError) in
                try spoolPassword.opening(spool: spool, context: context)
            }
            try await replaySpool(opening, rule: rule, context: context).exit()
        } else if let deadLetterFile {
            try replayJob(try job(replaying: deadLetterFile, rule: rule, context: context), context: context).exit()
        }
    }

    /// The replay of `deadLetterFile` the flags describe; a configuration error is printed and exits 2.
    func job(replaying deadLetterFile: String, rule: RuleOptions?, context: CommandContext) throws
        -> ReplayJobConfiguration
    {
        try context.configured { () throws(RuleLoadError) in
            ReplayJobConfiguration(
                inputPath: deadLetterFile, rule: rule,
                deadLetterPath: deadLetter
                    ?? (dryRun ? nil : ReplayJobConfiguration.defaultOutput(for: deadLetterFile)),
                dryRun: dryRun, quiet: quiet,
                delivery: dryRun
                    ? nil
                    : try deliveryFlags.configuration(
                        environment: context.environment, warn: context.diagnostics.write),
                drainTimeout: deliveryFlags.drainTimeout, runIDs: Set(runId), jobs: mappingFlags.count)
        }
    }
}
