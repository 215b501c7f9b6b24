/// A snapshot of a delivery engine's counters, for a progress line or the end-of-run summary.
public struct DeliveryStats: Sendable, Hashable {
    /// Events passed to `submit`.
    public var submitted: Int
    /// Events the API accepted (2xx).
    public var delivered: Int
    /// Requests on the wire right now.
    public var inFlight: Int
    /// Events submitted and not yet delivered or dead-lettered (in flight included).
    public var queued: Int
    /// Attempts that failed and were scheduled again.
    public var retries: Int
    /// Events given up on and handed to the dead-letter writer.
    public var deadLettered: Int
    /// Dead-letter entries that could not be written (the file was not writable); see `lastDeadLetterError`.
    public var deadLetterWriteFailures: Int
    /// Why the last dead-letter write failed, if one did.
    public var lastDeadLetterError: String?
    /// Median and 99th percentile of request round-trip times in seconds (10% resolution), 0 before any.
    public var p50Latency: Double
    /// The 99th percentile of request round-trip times in seconds (10% resolution), 0 before any.
    public var p99Latency: Double
    /// Delivered events per second since the first submit (until `finish` completed).
    public var eventsPerSecond: Double
    /// Why the engine stopped sending on its own, if it did (a refused write key, a redirect it
    /// must not follow); nil while it delivers normally.
    public var stop: DeliveryStop?

    /// The HTTP status (401 or 403) when the engine stopped because the write key was refused.
    public var writeKeyRefused: Int? {
        if case .writeKeyRefused(let status)? = stop { return status }
        return nil
    }

    /// Counters with the given values; zero by default.
    public init(
        submitted: Int = 0, delivered: Int = 0, inFlight: Int = 0, queued: Int = 0, retries: Int = 0,
        deadLettered: Int = 0, deadLetterWriteFailures: Int = 0, lastDeadLetterError: String? = nil,
        p50Latency: Double = 0, p99Latency: Double = 0, eventsPerSecond: Double = 0, stop: DeliveryStop? = nil
    ) {
        self.submitted = submitted
        self.delivered = delivered
        self.inFlight = inFlight
        self.queued = queued
        self.retries = retries
        self.deadLettered = deadLettered
        self.deadLetterWriteFailures = deadLetterWriteFailures
        self.lastDeadLetterError = lastDeadLetterError
        self.p50Latency = p50Latency
        self.p99Latency = p99Latency
        self.eventsPerSecond = eventsPerSecond
        self.stop = stop
    }
}
