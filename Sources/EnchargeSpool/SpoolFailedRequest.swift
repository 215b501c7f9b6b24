import JSONKit

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
