import Crypto
import SystemKit

/// Checks that a webhook request was signed by its provider, before any rule sees the body.
///
/// Inputs are plain values, so the server, the Lua `webhook` module and tests share one
/// implementation: header names lower-cased, the body as the exact bytes received.
package enum WebhookVerifier {
    /// Verifies `body` and `headers` under `scheme` with `secret`; returns normally when a signature
    /// matches (and, for Stripe and Standard Webhooks, its timestamp is within the tolerance).
    ///
    /// - Parameters:
    ///   - headers: lower-cased header names to values (the first value when a header is repeated).
    ///     A name in another case is still found, by a slower scan.
    ///   - body: the raw request body, byte for byte as received.
    ///   - secret: the endpoint's signing secret as the provider shows it (`whsec_...` for Stripe and
    ///     Standard Webhooks). An empty secret is refused, since anyone could sign with it.
    package static func verify(
        _ scheme: WebhookScheme, headers: [String: String], body: [UInt8], secret: String,
        options: WebhookVerificationOptions = .init()
    ) throws(WebhookVerificationError) {
        try requireSecret(secret, scheme: scheme)
        let request = SignedRequest(headers: headers, body: body, secret: secret, options: options)
        switch scheme {
        case .stripe: try verifyStripe(request)
        case .github: try verifyGitHub(request)
        case .shopify: try verifyShopify(request)
        case .standard: try verifyStandard(request)
        case .hmac: try verifyGenericHMAC(request)
        }
    }

    /// Refuses an empty secret, since anyone could sign with it.
    static func requireSecret(_ secret: String, scheme: WebhookScheme) throws(WebhookVerificationError) {
        guard !secret.isEmpty else {
            throw WebhookVerificationError(
                .badSecret, "the \(scheme.rawValue) signing secret is empty (set it in the endpoint's settings)")
        }
    }

    /// The delivery id the scheme carries, for deduplicating retried deliveries: `webhook-id`
    /// (standard), `X-GitHub-Delivery` (github), `X-Shopify-Webhook-Id` (shopify); `nil` for stripe,
    /// whose event id is in the body, and for hmac. Without a scheme, the first of those headers
    /// present. Empty values count as absent.
    package static func deliveryID(_ scheme: WebhookScheme?, headers: [String: String]) -> String? {
        let candidates: [String]
        switch scheme {
        case .standard: candidates = ["webhook-id"]
        case .github: candidates = ["x-github-delivery"]
        case .shopify: candidates = ["x-shopify-webhook-id"]
        case .stripe, .hmac: candidates = []
        case nil: candidates = ["webhook-id", "x-github-delivery", "x-shopify-webhook-id"]
        }
        for name in candidates {
            if let value = header(name, in: headers) { return value }
        }
        return nil
    }
}

// MARK: - Shared by the schemes

/// One request under verification, with the helpers every scheme needs.
struct SignedRequest {
    let headers: [String: String]
    let body: [UInt8]
    let secret: String
    let options: WebhookVerificationOptions

    /// The trimmed value of a required header, or `missingHeader` naming it as the provider does.
    func require(_ name: String, displayName: String) throws(WebhookVerificationError) -> Substring {
        guard let value = WebhookVerifier.header(name, in: headers) else {
            throw WebhookVerificationError(.missingHeader, "the request has no \(displayName) header")
        }
        return value[...]
    }

    /// Whole seconds for a message; a magnitude no `Int` holds (or NaN) is printed as a `Double`.
    private static func seconds(_ value: Double) -> String {
        value.magnitude < 1e15 ? String(Int(value.rounded())) : String(value)
    }

    /// Checks that a signed timestamp is within the tolerance of now.
    func checkTolerance(_ timestamp: Int, headerName: String) throws(WebhookVerificationError) {
        let now = options.now ?? SystemClock.wallSeconds()
        let skew = Double(timestamp) - now
        guard abs(skew) <= options.tolerance else {
            let direction = skew < 0 ? "old" : "in the future"
            throw WebhookVerificationError(
                .timestampOutsideTolerance,
                "\(headerName) timestamp is \(Self.seconds(abs(skew))) s \(direction), outside the "
                    + "\(Self.seconds(options.tolerance)) s tolerance "
                    + "(a replayed request, or a clock that is off)")
        }
    }
}

extension WebhookVerifier {
    /// The value of header `name` (lower case), trimmed of spaces and tabs; `nil` when absent or
    /// empty. Falls back to a case-insensitive scan for callers that did not lower-case names.
    static func header(_ name: String, in headers: [String: String]) -> String? {
        var value = headers[name]
        if value == nil {
            value = headers.first { $0.key.lowercased() == name }?.value
        }
        guard let value else { return nil }
        let trimmed = value.trimming(.spacesAndTabs)
        return trimmed.isEmpty ? nil : String(trimmed)
    }

    /// A Unix timestamp written as decimal digits only (no sign, no fraction, no exponent), as both
    /// Stripe and Standard Webhooks send it; `nil` otherwise or when it does not fit an `Int`.
    static func parseTimestamp(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int(text)
    }

    /// Whether `text` starts with `prefix`, ignoring ASCII case.
    static func hasPrefixIgnoringCase(_ text: Substring, _ prefix: String) -> Bool {
        let textBytes = text.utf8
        let prefixBytes = prefix.utf8
        guard textBytes.count >= prefixBytes.count else { return false }
        return zip(textBytes, prefixBytes).allSatisfy { lowerASCII($0) == lowerASCII($1) }
    }

    private static func lowerASCII(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    /// HMAC-SHA256 over the concatenation of `parts`, fed piece by piece so that the body is never
    /// copied into a signed-payload buffer.
    static func hmacSHA256(key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: key))
        for part in parts { mac.update(data: part) }
        return Array(mac.finalize())
    }
}
