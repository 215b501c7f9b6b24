/// Why a webhook request failed signature verification, in one sentence a person can act on.
///
/// The message never contains the secret, nor the signature the secret would produce (that would
/// turn the error into a signing oracle); it names the header and says what to check.
package struct WebhookVerificationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The broad reason, for status codes and metrics.
    package enum Kind: String, Sendable, CaseIterable {
        /// A header the scheme requires is absent or empty.
        case missingHeader
        /// A header is present but not in the scheme's format (no `t=`, not hex, not base64, ...).
        case malformedHeader
        /// The signature is authentic but its timestamp is further from now than the tolerance.
        case timestampOutsideTolerance
        /// No signature in the request matches the body under the configured secret.
        case signatureMismatch
        /// The configured secret cannot be used (empty, or not base64 where the scheme needs it).
        case badSecret
    }

    package let kind: Kind
    package let message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }
}
