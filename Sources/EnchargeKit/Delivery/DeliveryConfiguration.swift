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
    /// Seconds to establish a connection (TCP and TLS).
    public var connectTimeout: Double
    /// Seconds one whole request may take.
    public var requestTimeout: Double
    /// Attempts per event, the first included, before it is dead-lettered.
    public var maxAttempts: Int
    /// Backoff before retry n is uniform in 0...min(backoffCap, backoffBase * 2^(n-1)) seconds.
    public var backoffBase: Double
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

    public init(
        endpoint: String,
        writeKey: String,
        userAgent: String,
        concurrency: Int = 16,
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
        guard connectTimeout > 0, requestTimeout > 0 else { throw fail("timeouts must be positive") }
        guard maxAttempts >= 1 else { throw fail("maxAttempts must be at least 1") }
        guard backoffBase >= 0, backoffCap >= 0, maxRetryAfter >= 0 else {
            throw fail("backoff values must not be negative")
        }
        guard maxQueuedEvents >= 1 else { throw fail("maxQueuedEvents must be at least 1") }
        guard refusalsBeforeStop >= 1 else { throw fail("refusalsBeforeStop must be at least 1") }
    }
}

/// Why an event could not be delivered, or why the engine could not start. Its description is one
/// sentence for a person and never contains the write key.
public struct DeliveryError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// A bad `DeliveryConfiguration` or a libcurl set-up failure.
        case configuration
        /// The API answered with a status that retrying cannot fix (4xx other than 408, 425, 429).
        case rejected
        /// Every attempt failed with a retryable outcome.
        case exhausted
        /// The request could not be made for a reason retrying cannot fix (bad URL, TLS trust).
        case transport
        /// `finish(timeout:)` ran out of time, `interrupt(drainTimeout:)` was called, or the event came
        /// after `finish`.
        case interrupted
        /// The API answered 401 or 403: the write key is wrong or revoked (see `DeliveryStop`).
        case writeKeyRefused
        /// The endpoint redirects somewhere the engine must not follow (see `DeliveryStop`).
        case redirected
    }

    public var kind: Kind
    /// What happened, without the status and body (those are separate fields).
    public var message: String
    /// The HTTP status of the last response, if there was one.
    public var status: Int?
    /// The first bytes of the last response body, if there was one.
    public var body: String?
    /// Attempts made.
    public var attempts: Int

    public init(kind: Kind, message: String, status: Int? = nil, body: String? = nil, attempts: Int = 0) {
        self.kind = kind
        self.message = message
        self.status = status
        self.body = body
        self.attempts = attempts
    }

    public var description: String {
        var text = message
        if let body, !body.isEmpty {
            let oneLine = String(body.map { $0.isNewline ? " " : $0 }.prefix(200))
            text += ": \(oneLine)"
        }
        return text
    }
}

/// Why a delivery engine stopped sending on its own: a cause no retry can fix and that holds for
/// every event, so sending the rest would only turn each of them into a dead letter. Once stopped,
/// an engine sends nothing more: events on the wire finish, and every other event (those submitted
/// later too) is settled with an error of the matching kind, dead-lettered in submit order, or
/// reported to `onSettled` as `.interrupted` (so a spool keeps it pending).
public enum DeliveryStop: Sendable, Hashable, CustomStringConvertible {
    /// `refusalsBeforeStop` answers in a row were 401 or 403 (the status of the last one), with no
    /// 2xx between them.
    case writeKeyRefused(status: Int)
    /// The endpoint answered with a redirect that is not followed: to another scheme, host or port
    /// (the write key would go with it), or a 301/302/303 (which would turn the POST into a GET).
    /// `location` is the absolute URL it redirects to.
    case redirected(status: Int, location: String)

    /// What happened, for a dead-letter reason: `the Ingest API refused the write key (HTTP 401)`.
    public var description: String {
        switch self {
        case .writeKeyRefused(let status): "the Ingest API refused the write key (HTTP \(status))"
        case .redirected(_, let location): "the endpoint redirects to \(location); pass that as --endpoint"
        }
    }

    /// What happened and what to do, for a person: the refusal names where the key came from
    /// (`writeKeySource`, such as `ENCHARGE_WRITE_KEY`).
    public func message(writeKeySource: String) -> String {
        switch self {
        case .writeKeyRefused: "\(description); check \(writeKeySource)"
        case .redirected: description
        }
    }

    /// The error every event left behind by this stop is settled with (an event that was sent also
    /// gets the status and body of its own last answer).
    var error: DeliveryError {
        switch self {
        case .writeKeyRefused: DeliveryError(kind: .writeKeyRefused, message: description)
        case .redirected: DeliveryError(kind: .redirected, message: description)
        }
    }
}
