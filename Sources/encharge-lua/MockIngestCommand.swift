import ArgumentParser
import EnchargeCommands
import EnchargeRules
import MockIngest
import SystemKit

/// `encharge-lua mock-ingest`: a local stand-in for the Encharge Ingest API.
struct MockIngestCommand: AsyncParsableCommand, ContextCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-ingest",
        abstract: "Run a local stand-in for the Encharge Ingest API that enforces its contract and can inject faults.",
        discussion: """
            Serves POST /v1/ like https://ingest.encharge.io/v1/ plus GET / and GET /healthz for \
            readiness. On start it prints one line, "mock-ingest listening on http://HOST:PORT/v1/"; \
            stop it with Ctrl-C or SIGTERM.

            By default it enforces what the Ingest API documentation states, and no more: an \
            X-Encharge-Token header (401 without one, or when it differs from --write-key), \
            Content-Type application/json (415), a JSON object with a string "name" and a "user" \
            object holding "email" or "userId" (400). --record keeps each accepted body byte for \
            byte. --strict adds encharge-lua's own event validation, which is stricter than the API.

            EXIT CODES
              0   stopped by Ctrl-C or SIGTERM
              1   the server failed while running
              2   usage or configuration error, a port in use, an unwritable --record file

            EXAMPLES
              encharge-lua mock-ingest --port 8089 --record received.jsonl --verbose
              ENCHARGE_WRITE_KEY=test encharge-lua run rules.lua in.jsonl \\
                --endpoint http://127.0.0.1:8089/v1/
              encharge-lua mock-ingest --write-key-file key.txt --fail-rate 0.1 --seed 7
            """)

    @OptionGroup(title: "Server") var server: MockIngestServerFlags
    @OptionGroup(title: "Faults") var faults: MockIngestFaultFlags

    func validate() throws {
        try FlagChecks.port(server.port)
        try FlagChecks.fraction(faults.failRate, "--fail-rate")
        try FlagChecks.fraction(faults.dropRate, "--drop-rate")
        if let rateLimit = faults.rateLimit { try FlagChecks.integer(rateLimit, "--rate-limit", 1...1_000_000) }
        try FlagChecks.integer(faults.latencyMs, "--latency-ms", 0...600_000)
        if server.writeKey != nil && server.writeKeyFile != nil {
            throw ValidationError("give either --write-key or --write-key-file, not both")
        }
        if let key = server.writeKey, key.isEmpty { throw ValidationError("--write-key must not be empty") }
        guard !server.host.isEmpty else { throw ValidationError("--host must not be empty") }
    }

    func run() async throws { try await run(context: .process()) }

    func run(context: CommandContext) async throws {
        let configuration = try context.configured { () throws(RuleLoadError) in
            try server.configuration(faults: faults, warn: context.diagnostics.write)
        }
        do {
            try await runMockIngest(configuration: configuration, output: context.stdout, errors: context.stderr)
        } catch let error as RuleLoadError {
            context.diagnostics.write("error: \(error.description)")
            try ExitStatus.usage.exit()
        } catch let error as MockIngestError {
            // Like `serve`: a server that cannot start (port in use, --record unwritable) is a
            // configuration error.
            context.diagnostics.write("error: \(error.message)")
            try ExitStatus.usage.exit()
        }
    }
}

/// Where `mock-ingest` listens and what it checks and keeps.
struct MockIngestServerFlags: ParsableArguments {
    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free one.")
    var port = 8089

    @Option(
        help: ArgumentHelp(
            "Require this value in X-Encharge-Token (401 otherwise); without it any token is accepted.",
            valueName: "key"))
    var writeKey: String?

    @Option(help: ArgumentHelp("Read the value --write-key would take from this file.", valueName: "path"))
    var writeKeyFile: String?

    @Flag(help: "Also apply encharge-lua's own event validation, which is stricter than the documented API.")
    var strict = false

    @Option(
        help: ArgumentHelp(
            "Append each accepted request body, byte for byte, to this file (one line each).", valueName: "file"))
    var record: String?

    @Flag(help: "Log one line per request on stderr: method, path, status and body bytes (never the token).")
    var verbose = false

    /// The mock's configuration from these flags and `faults`; reads `--write-key-file` (`warn`
    /// receives the warning about a file others can read).
    func configuration(
        faults: MockIngestFaultFlags, warn: (String) -> Void
    ) throws(RuleLoadError) -> MockIngestConfiguration {
        var configuration = MockIngestConfiguration(
            host: host, port: port, writeKey: writeKey, strict: strict, verbose: verbose, recordPath: record,
            failRate: faults.failRate, dropRate: faults.dropRate, rateLimit: faults.rateLimit,
            latency: .milliseconds(faults.latencyMs), seed: faults.seed)
        if let writeKeyFile {
            configuration.writeKey = try SecretFile.read(writeKeyFile, flag: "--write-key-file", warn: warn)
        }
        return configuration
    }
}

/// The faults `mock-ingest` injects.
struct MockIngestFaultFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Answer this fraction of requests (0...1) with 500.", valueName: "p"))
    var failRate = 0.0

    @Option(
        help: ArgumentHelp(
            "Serve at most this many requests per second; answer the rest 429 with Retry-After: 1.", valueName: "n"))
    var rateLimit: Int?

    @Option(help: ArgumentHelp("Wait this many milliseconds before answering each request.", valueName: "ms"))
    var latencyMs = 0

    @Option(
        help: ArgumentHelp(
            "Close the connection without an answer for this fraction of requests (0...1).", valueName: "p"))
    var dropRate = 0.0

    @Option(help: ArgumentHelp("Seed the random fault draws so a run can be repeated.", valueName: "s"))
    var seed: UInt64?
}
