import JSONKit

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
