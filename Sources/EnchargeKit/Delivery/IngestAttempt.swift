import CCurl

/// What one HTTP attempt came back with.
struct IngestAttempt {
    enum Outcome: Equatable {
        /// The server answered: status, trimmed `Retry-After` text if any, and the first bytes of the body
        /// (the write key already redacted).
        /// A 2xx carries no body and no `Retry-After`: nothing reads them.
        case response(status: Int, retryAfter: String?, body: String)
        /// A redirect that was not followed (another origin, or not 307/308): its status and the
        /// absolute URL it points to (redacted).
        case redirect(status: Int, location: String)
        /// No usable answer: connection refused or reset, timeout, TLS failure, ... (message redacted).
        case failure(code: CURLcode, message: String)

        /// What `IngestTransport.abandonAll` reports for a request it gave up on.
        static let abandoned = Outcome.failure(
            code: CURLE_ABORTED_BY_CALLBACK, message: "abandoned while waiting for an answer")
    }

    /// The caller's tag passed to `start`.
    var tag: Int
    /// Seconds from `start` until the outcome was known.
    var elapsed: Double
    var outcome: Outcome
}
