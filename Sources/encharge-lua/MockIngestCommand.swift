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
        try await context.serving {
            try await runMockIngest(configuration: configuration, output: context.stdout, errors: context.stderr)
        }
    }
}
