import ArgumentParser

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
