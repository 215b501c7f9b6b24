// Stripe, as documented in "Verify webhook signatures manually"
// (https://docs.stripe.com/webhooks#verify-manually) and implemented by stripe-python's
// `WebhookSignature.verify_header`:
// - `Stripe-Signature` is a comma-separated list of `prefix=value` elements; `t` is the Unix
//   timestamp, each `v1` is a hex HMAC-SHA256 signature (several while a secret is rolled), and
//   other prefixes (the test-mode `v0`) are discarded;
// - the signed payload is `<t>.<raw body>`, the key the endpoint secret's UTF-8 bytes (`whsec_`
//   included, not decoded);
// - any `v1` may match; the timestamp must be within the tolerance (Stripe's default: 300 s).
// Stripe publishes no test vector; the tests use one computed with `openssl dgst`.

import SystemKit

extension WebhookVerifier {
    static func verifyStripe(_ request: SignedRequest) throws(WebhookVerificationError) {
        let name = "Stripe-Signature"
        let header = try request.require("stripe-signature", displayName: name)

        var timestampText: Substring?
        var signatures: [[UInt8]] = []
        var sawV1 = false
        for element in header.split(separator: ",") {
            let element = element.trimming(.spacesAndTabs)
            guard let equals = element.firstIndex(of: "=") else { continue }
            let prefix = element[..<equals]
            let value = element[element.index(after: equals)...]
            if prefix == "t" {
                if timestampText == nil { timestampText = value }
            } else if prefix == "v1" {
                sawV1 = true
                if let bytes = Hex.decode(value), bytes.count == SHA256Size.bytes {
                    signatures.append(bytes)
                }
            }
        }

        guard let timestampText else {
            throw WebhookVerificationError(.malformedHeader, "\(name) has no t= timestamp")
        }
        guard let timestamp = parseTimestamp(timestampText) else {
            throw WebhookVerificationError(.malformedHeader, "\(name) timestamp t= is not an integer")
        }
        guard sawV1 else {
            throw WebhookVerificationError(.malformedHeader, "\(name) has no v1 signature")
        }
        guard !signatures.isEmpty else {
            throw WebhookVerificationError(
                .malformedHeader, "\(name) v1 signature is not 64 hex digits (an HMAC-SHA256)")
        }

        let expected = hmacSHA256(
            key: Array(request.secret.utf8), parts: [Array(timestampText.utf8), [UInt8(ascii: ".")], request.body])
        // Compare with every candidate rather than stopping at the first match.
        var matched = false
        for signature in signatures {
            if ConstantTime.equals(signature, expected) { matched = true }
        }
        guard matched else {
            throw WebhookVerificationError(
                .signatureMismatch,
                "\(name) has no v1 signature matching the body (check the endpoint's signing secret)")
        }
        try request.checkTolerance(timestamp, headerName: name)
    }
}

/// Digest sizes the schemes check decoded signatures against.
enum SHA256Size {
    static let bytes = 32
}
