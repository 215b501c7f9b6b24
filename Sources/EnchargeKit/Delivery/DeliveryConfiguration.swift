/// How the delivery engine reaches the Encharge Ingest API and how hard it tries.
public struct DeliveryConfiguration: Sendable {
    /// The Ingest endpoint, `https://ingest.encharge.io/v1/` in production; `http` or `https` only.
    public var endpoint: String
    /// The write key sent as `X-Encharge-Token`. A secret: never part of any message this target makes.
    public var writeKey: String
    /// The `User-Agent` header, e.g. `encharge-lua/1.2.0`.
    public var userAgent: String
    /// Most requests in flight at once.
    public var concurrency: Int
    /// Threads that make the requests, each driving its share of the `concurrency` handles through
    /// a libcurl multi handle of its own (at most `concurrency` are used). They share one schedule,
    /// so per-person order holds whichever thread sends an event. One libcurl thread tops out at
    /// about one core's worth of requests; more let delivery use more cores.
    public var senderThreads: Int
    /// Seconds to establish a connection (TCP and TLS).
    public var connectTimeout: Double
    /// Seconds one whole request may take.
    public var requestTimeout: Double
    /// Attempts per event, the first included, before it is dead-lettered.
    public var maxAttempts: Int
    /// Backoff before retry n is uniform in 0...min(backoffCap, backoffBase * 2^(n-1)) seconds.
    public var backoffBase: Double
    /// The longest backoff before a retry, in seconds (default 30), however many attempts failed; 0
    /// retries at once. A server's `Retry-After` is not capped by it (see `maxRetryAfter`).
    public var backoffCap: Double
    /// Longest `Retry-After` honoured, in seconds; a longer one is shortened to this.
    public var maxRetryAfter: Double
    /// A PEM file of trusted CA certificates instead of the system store.
    public var caBundlePath: String?
    /// `submit` blocks while this many events are queued or in flight.
    public var maxQueuedEvents: Int
    /// After this many 401/403 answers in a row (no 2xx between them) the engine stops: see
    /// `DeliveryStop.writeKeyRefused`.
    public var refusalsBeforeStop: Int
    /// Where the write key came from, named in messages that ask the user to check it: the
    /// environment variable (`ENCHARGE_WRITE_KEY`) or `--write-key-file PATH`. Never the key itself.
    public var writeKeySource: String

    /// A configuration with the production defaults for everything but where to send, the key and the user agent.
    public init(
        endpoint: String,
        writeKey: String,
        userAgent: String,
        concurrency: Int = 16,
        senderThreads: Int = 1,
        connectTimeout: Double = 10,
        requestTimeout: Double = 30,
        maxAttempts: Int = 8,
        backoffBase: Double = 0.5,
        backoffCap: Double = 30,
        maxRetryAfter: Double = 300,
        caBundlePath: String? = nil,
        maxQueuedEvents: Int = 10_000,
        refusalsBeforeStop: Int = 3,
        writeKeySource: String = "ENCHARGE_WRITE_KEY"
    ) {
        self.endpoint = endpoint
        self.writeKey = writeKey
        self.userAgent = userAgent
        self.concurrency = concurrency
        self.senderThreads = senderThreads
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxAttempts = maxAttempts
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.maxRetryAfter = maxRetryAfter
        self.caBundlePath = caBundlePath
        self.maxQueuedEvents = maxQueuedEvents
        self.refusalsBeforeStop = refusalsBeforeStop
        self.writeKeySource = writeKeySource
    }

    /// The sender threads for `concurrency` requests in flight on a machine with `cores` cores:
    /// one per 8 requests in flight, at most one per core, at least one.
    public static func senderThreads(concurrency: Int, cores: Int) -> Int {
        max(1, min(cores, concurrency / 8))
    }

    /// Version string for `User-Agent: encharge-lua/<version>`.
    public static func userAgent(version: String) -> String { "encharge-lua/\(version)" }

    /// Checks every value and throws a `DeliveryError` of kind `.configuration` naming the first bad one.
    public func validate() throws(DeliveryError) {
        func fail(_ message: String) -> DeliveryError { DeliveryError(kind: .configuration, message: message) }
        let lower = endpoint.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), endpoint.utf8.count > 8 else {
            throw fail("endpoint must be an http:// or https:// URL")
        }
        guard !endpoint.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw fail("endpoint must not contain spaces or control characters")
        }
        guard !writeKey.isEmpty else { throw fail("the write key is empty") }
        guard !writeKey.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw fail("the write key contains control characters")
        }
        guard !userAgent.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw fail("the user agent contains control characters")
        }
        guard concurrency >= 1, concurrency <= 1024 else { throw fail("concurrency must be between 1 and 1024") }
        guard senderThreads >= 1, senderThreads <= 64 else { throw fail("senderThreads must be between 1 and 64") }
        guard connectTimeout > 0, requestTimeout > 0 else { throw fail("timeouts must be positive") }
        guard maxAttempts >= 1 else { throw fail("maxAttempts must be at least 1") }
        guard backoffBase >= 0, backoffCap >= 0, maxRetryAfter >= 0 else {
            throw fail("backoff values must not be negative")
        }
        guard maxQueuedEvents >= 1 else { throw fail("maxQueuedEvents must be at least 1") }
        guard refusalsBeforeStop >= 1 else { throw fail("refusalsBeforeStop must be at least 1") }
    }
}
