import JSONKit

/// One event the spool gave up on, with why (for `replay --spool` listings and tests).
package struct SpoolDeadEvent: Sendable, Hashable {
    /// The event's row id: its place in spool order.
    package var id: Int64
    package var requestID: String
    /// The event's wire JSON as stored.
    package var event: JSONValue
    package var reason: String
    /// The last HTTP status, when the API answered.
    package var status: Int?
    /// The first bytes of the last response body.
    package var body: String?
    package var attempts: Int
    /// When it was given up on (Unix seconds).
    package var deadAt: Double

    package init(
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
