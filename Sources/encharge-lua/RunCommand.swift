import ArgumentParser
import EnchargeKit
import EnchargeCommands
import EnchargeRules
import RecordSources

#if canImport(Glibc)
import Glibc
#endif

/// Delivery flags shared by `run` and `replay`.
struct DeliveryFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Ingest API URL (default: $ENCHARGE_ENDPOINT or https://ingest.encharge.io/v1/).", valueName: "url"))
    var endpoint: String?

    @Option(help: ArgumentHelp("Read the write key from this file instead of $ENCHARGE_WRITE_KEY.", valueName: "path"))
    var writeKeyFile: String?

    @Option(help: ArgumentHelp("Requests in flight at once.", valueName: "n"))
    var concurrency = 16

    @Option(help: ArgumentHelp("Seconds to wait for a connection.", valueName: "seconds"))
    var connectTimeout = 10.0

    @Option(help: ArgumentHelp("Seconds one request may take.", valueName: "seconds"))
    var requestTimeout = 30.0

    @Option(help: ArgumentHelp("Attempts per event before it is dead-lettered.", valueName: "n"))
    var maxAttempts = 8

    @Option(help: ArgumentHelp("First retry delay in seconds (exponential backoff with full jitter).", valueName: "seconds"))
    var backoffBase = 0.5

    @Option(help: ArgumentHelp("Longest retry delay in seconds.", valueName: "seconds"))
    var backoffCap = 30.0

    @Option(help: ArgumentHelp("CA bundle (PEM) for a private certificate authority.", valueName: "path"))
    var cacert: String?

    @Option(help: ArgumentHelp("After Ctrl-C, seconds in-flight requests may take before the rest is dead-lettered.", valueName: "seconds"))
    var drainTimeout = 10.0

    func validate() throws {
        try FlagChecks.integer(concurrency, "--concurrency", 1...1024)
        try FlagChecks.integer(maxAttempts, "--max-attempts", 1...1000)
        try FlagChecks.seconds(connectTimeout, "--connect-timeout")
        try FlagChecks.seconds(requestTimeout, "--request-timeout")
        try FlagChecks.seconds(backoffBase, "--backoff-base", allowingZero: true)
        try FlagChecks.seconds(backoffCap, "--backoff-cap", allowingZero: true)
        try FlagChecks.seconds(drainTimeout, "--drain-timeout", allowingZero: true)
        guard backoffCap >= backoffBase else { throw ValidationError("--backoff-cap must be at least --backoff-base") }
    }

    /// The delivery configuration, reading the write key; a missing key is a configuration
    /// error (exit 2) whose message says how to set it.
    func configuration(forServe: Bool = false) throws(RuleLoadError) -> DeliveryConfiguration {
        let environment = ProcessEnvironment()
        var key: String
        if let writeKeyFile {
            key = try SecretFile.read(writeKeyFile, flag: "--write-key-file")
        } else {
            key = environment["ENCHARGE_WRITE_KEY"] ?? ""
        }
        guard !key.isEmpty else {
            throw RuleLoadError(forServe
                ? "no Encharge write key: set ENCHARGE_WRITE_KEY or pass --write-key-file PATH"
                : "no Encharge write key: set ENCHARGE_WRITE_KEY or pass --write-key-file PATH (or use --dry-run to print the events without sending)")
        }
        return DeliveryConfiguration(
            endpoint: endpoint ?? environment["ENCHARGE_ENDPOINT"] ?? "https://ingest.encharge.io/v1/",
            writeKey: key, userAgent: DeliveryConfiguration.userAgent(version: enchargeLuaVersion),
            concurrency: concurrency, connectTimeout: connectTimeout, requestTimeout: requestTimeout,
            maxAttempts: maxAttempts, backoffBase: backoffBase, backoffCap: backoffCap, caBundlePath: cacert,
            writeKeySource: writeKeyFile.map { "--write-key-file \($0)" } ?? "ENCHARGE_WRITE_KEY")
    }
}

struct RunCommand: ParsableCommand {
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

            EXIT CODES
              0    every record mapped and every event delivered
              1    some records failed or events were dead-lettered
              2    usage, configuration, input or rule-load error, or the Ingest API refused
                   the write key or redirects elsewhere (the rest is dead-lettered)
              130  interrupted (Ctrl-C or SIGTERM)

            EXAMPLES
              encharge-lua run rules.lua signups.jsonl --dry-run
              ENCHARGE_WRITE_KEY=... encharge-lua run rules.lua signups.csv
              encharge-lua run rules.lua - --format json < export.json
            """)

    @Argument(help: ArgumentHelp("The rules file, defining on_record(record, ctx).", valueName: "rules.lua"))
    var rules: String

    @Argument(help: ArgumentHelp("Input files; - or none reads stdin.", valueName: "input"))
    var inputs: [String] = []

    @Flag(help: "Print each validated event as a JSON line on stdout instead of sending it.")
    var dryRun = false

    @OptionGroup(title: "Input") var inputFlags: InputFlags

    @Option(help: ArgumentHelp("Append failed records and undeliverable events here as JSON lines (default: dead-letter.jsonl; with --dry-run, no file unless given).", valueName: "path"))
    var deadLetter: String?

    @Flag(help: "Stop at the first record that fails.")
    var failFast = false

    @Flag(help: "No progress line and no summary unless something failed.")
    var quiet = false

    @OptionGroup(title: "Rule") var ruleFlags: RuleFlags
    @OptionGroup(title: "Delivery") var deliveryFlags: DeliveryFlags

    func validate() throws {
        for input in inputs where input != "-" && inputFlags.format == nil && InputFormat(path: input) == nil {
            throw ValidationError("cannot tell the format of '\(input)' from its name; name it .jsonl, .json or .csv, or pass --format")
        }
        let explicit = inputFlags.explicitFormat
        try inputFlags.validate(formats: (inputs.isEmpty ? ["-"] : inputs).map { explicit ?? InputFormat(path: $0) ?? .jsonl })
    }

    func run() throws {
        let explicit = inputFlags.explicitFormat
        let paths = inputs.isEmpty ? ["-"] : inputs
        var specs = paths.map { InputSpec(path: $0, format: explicit ?? InputFormat(path: $0) ?? .jsonl) }
        specs = try inputFlags.apply(to: specs)
        let job: RunJobConfiguration
        do {
            job = RunJobConfiguration(
                rule: try ruleFlags.options(rulesPath: rules), inputs: specs, dryRun: dryRun,
                deadLetterPath: deadLetter ?? (dryRun ? nil : "dead-letter.jsonl"), failFast: failFast, quiet: quiet,
                delivery: dryRun ? nil : try deliveryFlags.configuration(), drainTimeout: deliveryFlags.drainTimeout)
        } catch {
            Diagnostics.write("error: \(error.description)")
            throw ExitCode(RunExitCode.usage)
        }
        let code = runJob(job)
        if code != 0 { throw ExitCode(code) }
    }
}

/// The process environment, read once.
struct ProcessEnvironment {
    subscript(name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}

/// How inputs are read: `--format` when the name does not tell, `--delimiter` (CSV) and
/// `--records-path` (JSON).
struct InputFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Input format when it cannot be told from the file name: jsonl, json or csv.", valueName: "format"))
    var format: String?

    @Option(help: ArgumentHelp("CSV field separator: one character such as ';' or '|', or tab (default ',').", valueName: "char"))
    var delimiter: String?

    @Option(help: ArgumentHelp(
        "Read the records from the array at this JSON pointer of a .json input, such as /data for a list response.",
        valueName: "pointer"))
    var recordsPath: String?

    /// The format `--format` names, if any.
    var explicitFormat: InputFormat? { format.flatMap(InputFormat.init(rawValue:)) }

    func validate() throws {
        if let format, InputFormat(rawValue: format) == nil {
            throw ValidationError("--format must be jsonl, json or csv, got '\(format)'")
        }
    }

    /// Checks the flags against the formats of the inputs they would apply to.
    func validate(formats: [InputFormat]) throws {
        if let delimiter {
            do { _ = try RecordReader.delimiter(named: delimiter) } catch { throw ValidationError(error.description) }
            guard formats.allSatisfy({ $0 == .csv }) else {
                throw ValidationError("--delimiter applies to CSV input only; name the file .csv or pass --format csv")
            }
        }
        if recordsPath != nil, !formats.allSatisfy({ $0 == .json }) {
            throw ValidationError("--records-path applies to .json input only; name the file .json or pass --format json")
        }
    }

    /// `specs` with the delimiter and records path set; a records path that is not a JSON pointer
    /// is a usage error (exit 2) with a message that shows one.
    func apply(to specs: [InputSpec]) throws -> [InputSpec] {
        var specs = specs
        do {
            let byte = try delimiter.map(RecordReader.delimiter(named:)) ?? UInt8(ascii: ",")
            let pointer = try recordsPath.map(JSONPointer.init(parsing:))
            for i in specs.indices {
                specs[i].delimiter = byte
                specs[i].recordsPath = pointer
            }
        } catch {
            Diagnostics.write("error: \(error.description)")
            throw ExitCode(RunExitCode.usage)
        }
        return specs
    }
}
