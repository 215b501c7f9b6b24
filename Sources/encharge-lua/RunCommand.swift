import ArgumentParser
import EnchargeCommands
import EnchargeRules

struct RunCommand: ParsableCommand, ContextCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Map records through a rule and send the events to Encharge (or print them with --dry-run).",
        discussion: """
            Inputs are JSON lines (.jsonl, .ndjson), JSON (.json: an object or an array of objects) \
            or CSV (.csv, header row). Use - or no input for stdin (JSON lines unless --format says \
            otherwise).

            Every input is checked before the first record is read: if one is missing, \
            a directory or unreadable, nothing runs and the exit code is 2. An input that fails part-way \
            is reported, the other inputs still run, and the exit code is 2. Failed records and \
            undeliverable events go to --dead-letter (default dead-letter.jsonl, created mode 0600 only \
            when something fails); a --dry-run reports its failures on stderr and writes a file only \
            when --dead-letter is given, with entries that replay refuses.

            Records are mapped by --jobs Lua states at once (default: one per core), in chunks whose \
            results are merged back in input order: stdout, the dead-letter file, the order events are \
            sent in and stderr are those of --jobs 1. Each state keeps its own globals, so a rule that \
            counts or remembers across records in globals needs --jobs 1; --trace maps on one state.

            With --spool, each record's events are committed to the spool as one request and \
            deliver workers send them; the run exits once every event is committed. Each record \
            carries a dedup key made from its source (input path and line) and its events, so \
            running the same command again after a crash or an interrupt (within 7 days) spools \
            only what the first run did not. No write key is needed.

            EXIT CODES
              0    every record mapped and every event delivered (or committed, with --spool)
              1    some records failed or events were dead-lettered
              2    usage, configuration, input or rule-load error, the Ingest API
                   refused the write key or redirects elsewhere (the rest is
                   dead-lettered), or the spool could not be opened or written
              130  interrupted (Ctrl-C or SIGTERM)

            EXAMPLES
              encharge-lua run rules.lua signups.jsonl --dry-run
              encharge-lua run rules.lua signups.jsonl --dry-run --trace
              encharge-lua run rules.lua signups.jsonl --dry-run --jobs 1
              ENCHARGE_WRITE_KEY=... encharge-lua run rules.lua signups.csv
              encharge-lua run rules.lua export.jsonl --spool postgres://encharge@db/encharge
              encharge-lua run rules.lua - --format json < export.json
            """)

    @Argument(help: ArgumentHelp("The rules file, defining on_record(record, ctx).", valueName: "rules.lua"))
    var rules: String

    @Argument(help: ArgumentHelp("Input files; - or none reads stdin.", valueName: "input"))
    var inputs: [String] = []

    @Flag(help: "Print each validated event as a JSON line on stdout instead of sending it.")
    var dryRun = false

    @OptionGroup(title: "Input") var inputFlags: InputFlags

    @Option(
        help: ArgumentHelp(
            "Append failed records and undeliverable events here as JSON lines (default: dead-letter.jsonl; with --dry-run, no file unless given).",
            valueName: "path"))
    var deadLetter: String?

    @Flag(help: "Stop at the first record that fails.")
    var failFast = false

    @Flag(help: "No progress line and no summary unless something failed.")
    var quiet = false

    @Flag(
        help:
            "Print a block per record on stderr: each event with the rule line that emitted it, log lines, skips, errors and the outcome."
    )
    var trace = false

    @Option(
        help: ArgumentHelp(
            "Commit the events to this spool (a SQLite file or a postgres:// URL) for deliver workers to send, instead of sending them; re-running the same input spools nothing twice.",
            valueName: "path-or-url"))
    var spool: String?

    @OptionGroup var spoolPassword: SpoolPasswordFlags

    @OptionGroup(title: "Mapping") var mappingFlags: MappingFlags

    @OptionGroup(title: "Rule") var ruleFlags: RuleFlags
    @OptionGroup(title: "Delivery") var deliveryFlags: DeliveryFlags

    func validate() throws {
        try inputFlags.validate(paths: inputs.isEmpty ? ["-"] : inputs)
        if spool != nil && dryRun {
            throw ValidationError("--dry-run prints the events and --spool commits them; give one of them")
        }
        if spool == nil && spoolPassword.spoolPasswordFile != nil {
            throw ValidationError("--spool-password-file applies only with --spool postgres://...")
        }
    }

    func run() throws { try run(context: .process()) }

    func run(context: CommandContext) throws {
        try runJob(try job(context: context), context: context).exit()
    }

    /// The job the flags describe; a configuration error is printed and exits 2.
    func job(context: CommandContext) throws -> RunJobConfiguration {
        let specs = try inputFlags.specs(paths: inputs.isEmpty ? ["-"] : inputs, context: context)
        return try context.configured { () throws(RuleLoadError) in
            var rule = try ruleFlags.options(rulesPath: rules)
            rule.trace = trace
            return RunJobConfiguration(
                rule: rule, inputs: specs, dryRun: dryRun,
                deadLetterPath: deadLetter ?? (dryRun ? nil : "dead-letter.jsonl"), failFast: failFast, quiet: quiet,
                delivery: dryRun || spool != nil
                    ? nil
                    : try deliveryFlags.configuration(
                        environment: context.environment, warn: context.diagnostics.write),
                drainTimeout: deliveryFlags.drainTimeout, jobs: mappingFlags.count,
                spool: try spool.map { spool throws(RuleLoadError) in
                    try spoolPassword.opening(spool: spool, context: context)
                })
        }
    }
}
