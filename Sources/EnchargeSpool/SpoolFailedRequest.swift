import JSONKit

/// A raw webhook request whose rule failed, kept for `replay --spool`.
package struct SpoolFailedRequest: Sendable, Hashable {
    package var requestID: String
    /// The request as the server handed it to the rule (method, path, headers, body, ...).
    package var request: JSONValue
    /// The rule's error message.
    package var error: String
    package var traceback: String?
    /// When it failed (Unix seconds).
    package var failedAt: Double

    package init(requestID: String, request: JSONValue, error: String, traceback: String?, failedAt: Double) {
        self.requestID = requestID
        self.request = request
        self.error = error
        self.traceback = traceback
        self.failedAt = failedAt
    }
}
