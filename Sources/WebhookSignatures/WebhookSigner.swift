import SystemKit

/// Signs a webhook body as each provider does, the inverse of `WebhookVerifier`: what it produces,
/// the verifier (and so `serve --verify` and `webhook.verify`) accepts. `encharge-lua test` signs
/// a fixture's request with it, so that rules which check signatures can be tested offline.
package enum WebhookSigner {
    /// The headers a provider adds to `body` signed with `secret` at Unix time `timestamp`, named
    /// as the provider sends them:
    /// - stripe: `Stripe-Signature: t=<timestamp>,v1=<hex>`;
    /// - github: `X-Hub-Signature-256: sha256=<hex>`;
    /// - shopify: `X-Shopify-Hmac-Sha256: <base64>`;
    /// - standard: `webhook-id: <id>`, `webhook-timestamp`, `webhook-signature: v1,<base64>`, keyed
    ///   with the base64 after `whsec_`;
    /// - hmac: `hmac.header` holding `hmac.prefix` and the MAC in `hmac.encoding` (hex lower case).
    ///
    /// Throws `badSecret` for an empty secret, or a Standard Webhooks secret that is not base64.
    package static func headers(
        _ scheme: WebhookScheme, body: [UInt8], secret: String, timestamp: Int, id: String,
        hmac: HMACOptions = HMACOptions()
    ) throws(WebhookVerificationError) -> [(name: String, value: String)] {
        try WebhookVerifier.requireSecret(secret, scheme: scheme)
        let key = Array(secret.utf8)
        let dot = [UInt8(ascii: ".")]
        switch scheme {
        case .stripe:
            let mac = WebhookVerifier.hmacSHA256(key: key, parts: [Array(String(timestamp).utf8), dot, body])
            return [("Stripe-Signature", "t=\(timestamp),v1=\(Hex.encode(mac))")]
        case .github:
            return [
                ("X-Hub-Signature-256", "sha256=" + Hex.encode(WebhookVerifier.hmacSHA256(key: key, parts: [body])))
            ]
        case .shopify:
            return [("X-Shopify-Hmac-Sha256", Base64.encode(WebhookVerifier.hmacSHA256(key: key, parts: [body])))]
        case .standard:
            let mac = WebhookVerifier.hmacSHA256(
                key: try WebhookVerifier.standardKey(secret),
                parts: [Array(id.utf8), dot, Array(String(timestamp).utf8), dot, body])
            return [
                ("webhook-id", id), ("webhook-timestamp", String(timestamp)),
                ("webhook-signature", "v1," + Base64.encode(mac)),
            ]
        case .hmac:
            let mac =
                switch hmac.algorithm {
                case .sha256: WebhookVerifier.hmacSHA256(key: key, parts: [body])
                case .sha1: WebhookCrypto.hmacSHA1(key: key, message: body)
                }
            let text =
                switch hmac.encoding {
                case .hex: Hex.encode(mac)
                case .base64: Base64.encode(mac)
                }
            return [(hmac.header, hmac.prefix + text)]
        }
    }
}
