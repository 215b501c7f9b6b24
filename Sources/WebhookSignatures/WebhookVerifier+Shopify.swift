import SystemKit

// Shopify, as documented in "Deliver webhooks through HTTPS", step "Verify the webhook"
// (https://shopify.dev/docs/apps/build/webhooks/subscribe/https): `X-Shopify-Hmac-Sha256` is the
// base64 of the HMAC-SHA256 of the raw body, keyed with the app's client secret; compared in
// constant time. Shopify publishes no test vector; the tests use one computed with `openssl dgst`.

extension WebhookVerifier {
    static func verifyShopify(_ request: SignedRequest) throws(WebhookVerificationError) {
        let name = "X-Shopify-Hmac-Sha256"
        let value = try request.require("x-shopify-hmac-sha256", displayName: name)
        guard let signature = Base64.decode(value), signature.count == SHA256Size.bytes else {
            throw WebhookVerificationError(
                .malformedHeader, "\(name) is not the base64 of an HMAC-SHA256 (32 bytes)")
        }
        let expected = hmacSHA256(key: Array(request.secret.utf8), parts: [request.body])
        guard ConstantTime.equals(signature, expected) else {
            throw WebhookVerificationError(
                .signatureMismatch,
                "\(name) does not match the body (check the app's client secret, and that the body is passed unmodified)"
            )
        }
    }
}
