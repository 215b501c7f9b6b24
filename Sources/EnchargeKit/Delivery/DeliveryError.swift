/// Why an event could not be delivered, or why the engine could not start. Its description is one
/// sentence for a person and never contains the write key.
public struct DeliveryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which kind of failure it was.
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

    /// Which kind of failure it was.
    public var kind: Kind
    /// What happened, without the status and body (those are separate fields).
    public var message: String
    /// The HTTP status of the last response, if there was one.
    public var status: Int?
    /// The first bytes of the last response body, if there was one.
    public var body: String?
    /// Attempts made.
    public var attempts: Int

    /// An error of `kind`, with the last status and body and the attempts made, when known.
    public init(kind: Kind, message: String, status: Int? = nil, body: String? = nil, attempts: Int = 0) {
        self.kind = kind
        self.message = message
        self.status = status
        self.body = body
        self.attempts = attempts
    }

    /// `message`, then the first 200 characters of `body` on one line, when there is a body.
    public var description: String {
        var text = message
        if let body, !body.isEmpty {
            let oneLine = String(body.map { $0.isNewline ? " " : $0 }.prefix(200))
            text += ": \(oneLine)"
        }
        return text
    }
}
