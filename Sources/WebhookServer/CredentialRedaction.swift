import EnchargeKit
import JSONKit

/// What a `--trace` block must never show: the secrets a server or a test run knows (the signing
/// secret, the bearer token, settings named like a secret or a key) and the values of a request's
/// signature and credential headers, each replaced by `[redacted]` wherever a rule's log line or
/// error repeats it. `serve --trace` and `encharge-lua test` redact with it.
package struct CredentialRedaction: Sendable {
    /// Headers whose values are credentials: every scheme's signature header and the usual
    /// authentication headers; any header named like one counts too (`credentialWords`).
    static let credentialHeaders: Set<String> = [
        "stripe-signature", "x-hub-signature", "x-hub-signature-256", "x-shopify-hmac-sha256", "webhook-signature",
        "authorization", "proxy-authorization", "cookie",
    ]
    /// Words that make a header's or a setting's name a credential's.
    static let credentialWords = [
        "signature", "hmac", "token", "secret", "auth", "password", "api-key", "api_key", "apikey",
    ]
    /// Settings are also secret when named like a key (`stripe_key`, `signing_key`).
    static let settingCredentialWords = credentialWords + ["key"]
    /// Shorter values are not redacted: they would blank ordinary words out of the block.
    static let minimumSecretLength = 4

    /// The header of the generic `hmac` scheme, a credential whatever its name.
    private let hmacHeader: String
    private var redactors: [SecretRedactor]

    /// Redacts `secrets`, the string values of `settings` named like a secret or a key, and (with
    /// `including(headers:)`) credential headers, `hmacHeader` among them.
    package init(secrets: [String], settings: JSONObject, hmacHeader: String) {
        self.hmacHeader = hmacHeader.lowercased()
        var values = secrets
        for member in settings.members
        where Self.settingCredentialWords.contains(where: member.key.lowercased().contains) {
            if let text = member.value.stringValue { values.append(text) }
        }
        redactors = values.filter { $0.utf8.count >= Self.minimumSecretLength }.map(SecretRedactor.init(secret:))
    }

    /// This redaction and the values of the credential headers among `headers` (name, value).
    package func including(headers: [(String, String)]) -> CredentialRedaction {
        var redaction = self
        for (name, value) in headers {
            let name = name.lowercased()
            guard
                Self.credentialHeaders.contains(name) || name == hmacHeader
                    || Self.credentialWords.contains(where: name.contains),
                value.utf8.count >= Self.minimumSecretLength
            else { continue }
            redaction.redactors.append(SecretRedactor(secret: value))
        }
        return redaction
    }

    /// `text` with every secret and credential value replaced by `[redacted]`.
    package func redact(_ text: String) -> String {
        redactors.reduce(text) { $1.redact($0) }
    }
}
