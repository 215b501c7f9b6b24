public import Logging

/// How `encharge-lua mock-ingest` listens, what it enforces and which faults it injects.
///
/// The defaults are a well-behaved stand-in for `https://ingest.encharge.io/v1/` on
/// `127.0.0.1:8089`: any `X-Encharge-Token` accepted (but one is required), only the documented
/// contract enforced, nothing recorded, no faults.
public struct MockIngestConfiguration: Sendable {
    /// The address to bind; `127.0.0.1` keeps the mock off the network.
    public var host: String
    /// The port to bind; 0 asks the system for a free one (reported through `onListening`).
    public var port: Int
    /// When set, every ingest request must carry it in `X-Encharge-Token` (401 otherwise); when
    /// nil, any non-empty token is accepted. A request without the header is always 401, as the
    /// real API answers. A secret: it is never logged nor shown in `description`.
    public var writeKey: String?
    /// Also apply the tool's own `Event(validating:)`, which is stricter than the documented API
    /// (tag commas, field types, formats); off by default so tests can catch over-strictness.
    public var strict: Bool
    /// Write one line per request to standard error: method, path, status and body bytes.
    public var verbose: Bool
    /// A file to which the body of each accepted request is appended byte for byte, followed by a
    /// newline (one line per event for clients that send compact JSON, as encharge-lua does).
    public var recordPath: String?
    /// The probability (0...1) that an ingest request is answered 500.
    public var failRate: Double
    /// The probability (0...1) that an ingest request's connection is closed without an answer.
    public var dropRate: Double
    /// When set, at most this many ingest requests per second are served (a token bucket holding
    /// one second's worth); the others are answered 429 with `Retry-After: 1`.
    public var rateLimit: Int?
    /// How long to wait before answering each ingest request.
    public var latency: Duration
    /// Seeds the random draws of `failRate` and `dropRate`, so a run can be repeated; when nil
    /// the seed is random.
    public var seed: UInt64?
    /// The largest request body accepted (413 above it).
    public var maxBodyBytes: Int
    /// The level of Hummingbird's own log on standard error.
    public var logLevel: Logger.Level

    /// A configuration with the defaults of `mock-ingest`; each argument overrides one.
    public init(
        host: String = "127.0.0.1",
        port: Int = 8089,
        writeKey: String? = nil,
        strict: Bool = false,
        verbose: Bool = false,
        recordPath: String? = nil,
        failRate: Double = 0,
        dropRate: Double = 0,
        rateLimit: Int? = nil,
        latency: Duration = .zero,
        seed: UInt64? = nil,
        maxBodyBytes: Int = 1 << 20,
        logLevel: Logger.Level = .info
    ) {
        self.host = host
        self.port = port
        self.writeKey = writeKey
        self.strict = strict
        self.verbose = verbose
        self.recordPath = recordPath
        self.failRate = failRate
        self.dropRate = dropRate
        self.rateLimit = rateLimit
        self.latency = latency
        self.seed = seed
        self.maxBodyBytes = maxBodyBytes
        self.logLevel = logLevel
    }

    /// Checks the values a person can get wrong on the command line.
    public func validate() throws(MockIngestError) {
        func invalid(_ message: String) -> MockIngestError { MockIngestError(.invalidConfiguration, message) }
        if host.isEmpty { throw invalid("the host must not be empty") }
        if !(0...65535).contains(port) { throw invalid("the port must be between 0 and 65535, got \(port)") }
        if !(0...1).contains(failRate) { throw invalid("the fail rate must be between 0 and 1, got \(failRate)") }
        if !(0...1).contains(dropRate) { throw invalid("the drop rate must be between 0 and 1, got \(dropRate)") }
        if let rateLimit, rateLimit < 1 {
            throw invalid("the rate limit must be at least 1 request per second, got \(rateLimit)")
        }
        if latency < .zero || latency > .seconds(600) { throw invalid("the latency must be between 0 and 600 seconds") }
        if maxBodyBytes < 1 { throw invalid("the body size limit must be positive") }
        if let writeKey, writeKey.isEmpty { throw invalid("the write key must not be empty") }
    }
}

extension MockIngestConfiguration: CustomStringConvertible, CustomReflectable {
    /// The settings with the write key redacted, safe to log.
    public var description: String {
        var parts = ["host: \(host)", "port: \(port)"]
        if writeKey != nil { parts.append("writeKey: <redacted>") }
        if strict { parts.append("strict") }
        if let recordPath { parts.append("recordPath: \(recordPath)") }
        if failRate > 0 { parts.append("failRate: \(failRate)") }
        if dropRate > 0 { parts.append("dropRate: \(dropRate)") }
        if let rateLimit { parts.append("rateLimit: \(rateLimit)/s") }
        if latency > .zero { parts.append("latency: \(latency)") }
        if let seed { parts.append("seed: \(seed)") }
        return "MockIngestConfiguration(\(parts.joined(separator: ", ")))"
    }

    /// Keeps `dump` and debugger output from showing the write key.
    public var customMirror: Mirror {
        Mirror(self, children: ["description": description])
    }
}
