import ArgumentParser
import EnchargeServer

/// `encharge-lua mock-ingest`: a local stand-in for the Encharge Ingest API.
struct MockIngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-ingest",
        abstract: "Run a local stand-in for the Encharge Ingest API that enforces its contract and can inject faults.",
        discussion: """
            Serves POST /v1/ like https://ingest.encharge.io/v1/ (write key, Content-Type, event \
            validation) plus GET / and GET /healthz for readiness. On start it prints one line, \
            "mock-ingest listening on http://HOST:PORT/v1/"; stop it with Ctrl-C or SIGTERM.
            """)

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free one.")
    var port = 8089

    @Option(help: ArgumentHelp("Require this value in X-Encharge-Token (401 otherwise).", valueName: "key"))
    var writeKey: String?

    @Option(help: ArgumentHelp("Append each accepted event to this file as a JSON line.", valueName: "file"))
    var record: String?

    @Option(help: ArgumentHelp("Answer this fraction of requests (0...1) with 500.", valueName: "p"))
    var failRate = 0.0

    @Option(help: ArgumentHelp("Serve at most this many requests per second; answer the rest 429 with Retry-After: 1.", valueName: "n"))
    var rateLimit: Int?

    @Option(help: ArgumentHelp("Wait this many milliseconds before answering each request.", valueName: "ms"))
    var latencyMs = 0

    @Option(help: ArgumentHelp("Close the connection without an answer for this fraction of requests (0...1).", valueName: "p"))
    var dropRate = 0.0

    @Option(help: ArgumentHelp("Seed the random fault draws so a run can be repeated.", valueName: "s"))
    var seed: UInt64?

    var mockConfiguration: MockIngestConfiguration {
        MockIngestConfiguration(
            host: host, port: port, writeKey: writeKey, recordPath: record, failRate: failRate,
            dropRate: dropRate, rateLimit: rateLimit, latency: .milliseconds(latencyMs), seed: seed)
    }

    func validate() throws {
        do {
            try mockConfiguration.validate()
        } catch {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        try await runMockIngest(configuration: mockConfiguration)
    }
}
