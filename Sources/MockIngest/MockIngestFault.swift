/// What the mock does with one ingest request before looking at it.
enum MockIngestFault: Sendable, Equatable {
    /// Serve it normally.
    case none
    /// Answer 429 with `Retry-After: 1` (over `--rate-limit`).
    case rateLimited
    /// Close the connection without answering (`--drop-rate`).
    case drop
    /// Answer 500 (`--fail-rate`).
    case fail
}
