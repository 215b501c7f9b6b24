import GRDB
import JSONKit

/// A failure to open, read or write the spool. Its description is one sentence for a person.
public struct SpoolError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The database could not be opened, created or migrated.
        case open
        /// A read or write failed (disk full, I/O error, locked by another process for too long).
        case storage
        /// The spool is shutting down and takes no more work.
        case closed
    }

    public var kind: Kind
    public var message: String
    /// The database file.
    public var path: String

    public init(kind: Kind, message: String, path: String) {
        self.kind = kind
        self.message = message
        self.path = path
    }

    public var description: String { "\(path): \(message)" }

    /// Wraps whatever GRDB or SQLite threw.
    static func wrapping(_ error: any Error, kind: Kind, path: String, doing what: String) -> SpoolError {
        if let error = error as? SpoolError { return error }
        if let error = error as? DatabaseError {
            let detail = error.message ?? "SQLite error \(error.resultCode.rawValue)"
            return SpoolError(kind: kind, message: "\(what): \(detail)", path: path)
        }
        return SpoolError(kind: kind, message: "\(what): \(error)", path: path)
    }
}

/// What `Spool.accept` did with a request.
public enum SpoolAcceptResult: Sendable, Hashable {
    /// The request's events are on disk and will be delivered.
    case accepted
    /// Its dedup key was seen within the dedup window; nothing was stored.
    case duplicate
}

/// Counts of what the spool holds, for `/metrics` and `replay --spool`.
public struct SpoolStats: Sendable, Hashable {
    /// Events stored and not yet delivered or dead (those on the wire right now included).
    public var pending: Int
    /// Events delivered since the spool file was created (delivered rows are deleted; this counter stays).
    public var delivered: Int
    /// Events given up on, kept with their reason until `requeueDeadEvents`.
    public var dead: Int
    /// Raw requests whose rule failed, kept for replay.
    public var failedRequests: Int
    /// When the oldest pending event was accepted (Unix seconds), nil when none is pending.
    public var oldestPendingAcceptedAt: Double?

    public init(
        pending: Int = 0, delivered: Int = 0, dead: Int = 0, failedRequests: Int = 0,
        oldestPendingAcceptedAt: Double? = nil
    ) {
        self.pending = pending
        self.delivered = delivered
        self.dead = dead
        self.failedRequests = failedRequests
        self.oldestPendingAcceptedAt = oldestPendingAcceptedAt
    }
}

/// A raw webhook request whose rule failed, kept for `replay --spool`.
public struct SpoolFailedRequest: Sendable, Hashable {
    public var requestID: String
    /// The request as the server handed it to the rule (method, path, headers, body, ...).
    public var request: JSONValue
    /// The rule's error message.
    public var error: String
    public var traceback: String?
    /// When it failed (Unix seconds).
    public var failedAt: Double

    public init(requestID: String, request: JSONValue, error: String, traceback: String?, failedAt: Double) {
        self.requestID = requestID
        self.request = request
        self.error = error
        self.traceback = traceback
        self.failedAt = failedAt
    }
}

/// One event the spool gave up on, with why (for `replay --spool` listings and tests).
public struct SpoolDeadEvent: Sendable, Hashable {
    /// The event's row id: its place in spool order.
    public var id: Int64
    public var requestID: String
    /// The event's wire JSON as stored.
    public var event: JSONValue
    public var reason: String
    /// The last HTTP status, when the API answered.
    public var status: Int?
    /// The first bytes of the last response body.
    public var body: String?
    public var attempts: Int
    /// When it was given up on (Unix seconds).
    public var deadAt: Double

    public init(
        id: Int64, requestID: String, event: JSONValue, reason: String, status: Int?, body: String?, attempts: Int,
        deadAt: Double
    ) {
        self.id = id
        self.requestID = requestID
        self.event = event
        self.reason = reason
        self.status = status
        self.body = body
        self.attempts = attempts
        self.deadAt = deadAt
    }
}

/// How many failed requests a spool keeps for replay, and how many bytes of request text; past
/// either, the oldest are deleted (`serve --max-kept-requests`, `--max-kept-bytes`).
public struct SpoolKeptRequestCap: Sendable, Equatable {
    public var maxCount: Int
    public var maxBytes: Int

    public init(maxCount: Int = 10_000, maxBytes: Int = 256 << 20) {
        self.maxCount = maxCount
        self.maxBytes = maxBytes
    }
}
