// GitHub, as documented in "Validating webhook deliveries"
// (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries):
// `X-Hub-Signature-256: sha256=<hex>` where the hex is the HMAC-SHA256 of the raw body keyed with the
// webhook secret; compared in constant time. The same page publishes the test vector the tests use
// (secret "It's a Secret to Everybody", payload "Hello, World!"). The legacy SHA-1 `X-Hub-Signature`
// is not accepted: GitHub recommends the SHA-256 header and sends it with every delivery.

import SystemKit

extension WebhookVerifier {
    static func verifyGitHub(_ request: SignedRequest) throws(WebhookVerificationError) {
        let name = "X-Hub-Signature-256"
        guard let value = header("x-hub-signature-256", in: request.headers)?[...] else {
            let hint =
                header("x-hub-signature", in: request.headers) != nil
                ? " (only the legacy SHA-1 X-Hub-Signature is present; GitHub sends both when a secret is set)"
                : ""
            throw WebhookVerificationError(.missingHeader, "the request has no \(name) header\(hint)")
        }
        guard hasPrefixIgnoringCase(value, "sha256=") else {
            throw WebhookVerificationError(.malformedHeader, "\(name) does not start with sha256=")
        }
        let hex = value.dropFirst("sha256=".count)
        guard let signature = Hex.decode(hex), signature.count == SHA256Size.bytes else {
            throw WebhookVerificationError(
                .malformedHeader, "\(name) signature is not 64 hex digits (an HMAC-SHA256)")
        }
        let expected = hmacSHA256(key: Array(request.secret.utf8), parts: [request.body])
        guard ConstantTime.equals(signature, expected) else {
            throw WebhookVerificationError(
                .signatureMismatch,
                "\(name) does not match the body (check the webhook's secret, and that the body is passed unmodified)")
        }
    }
}
