import SystemKit

// Standard Webhooks, as specified in spec/standard-webhooks.md of github.com/standard-webhooks/
// standard-webhooks ("Signature scheme", "Webhook headers", "Verifying signatures") and implemented by
// its reference libraries (libraries/javascript/src/index.ts):
// - headers `webhook-id`, `webhook-timestamp` (integer Unix seconds) and `webhook-signature`, a
//   space-delimited list of `<version>,<base64 signature>`; `v1` is HMAC-SHA256, others (the
//   asymmetric `v1a`) are skipped;
// - the signed content is `<webhook-id>.<webhook-timestamp>.<raw body>`;
// - the secret is `whsec_` + base64 of the key; like the reference libraries, a secret without the
//   prefix is base64-decoded as it is;
// - any listed `v1` may match; the timestamp must be within the tolerance (the libraries' 300 s).
// The tests use the reference libraries' published vector (the "sign function works" tests).

extension WebhookVerifier {
    static func verifyStandard(_ request: SignedRequest) throws(WebhookVerificationError) {
        let id = try request.require("webhook-id", displayName: "webhook-id")
        let timestampText = try request.require("webhook-timestamp", displayName: "webhook-timestamp")
        let signatureList = try request.require("webhook-signature", displayName: "webhook-signature")

        guard let timestamp = parseTimestamp(timestampText) else {
            throw WebhookVerificationError(.malformedHeader, "webhook-timestamp is not an integer")
        }
        let key = try standardKey(request.secret)

        var signatures: [[UInt8]] = []
        var sawV1 = false
        for entry in signatureList.split(separator: " ") {
            guard let comma = entry.firstIndex(of: ","), entry[..<comma] == "v1" else { continue }
            sawV1 = true
            if let bytes = Base64.decode(entry[entry.index(after: comma)...]),
                bytes.count == SHA256Size.bytes
            {
                signatures.append(bytes)
            }
        }
        guard sawV1 else {
            throw WebhookVerificationError(
                .malformedHeader, "webhook-signature has no v1 signature (only v1, HMAC-SHA256, is supported)")
        }
        guard !signatures.isEmpty else {
            throw WebhookVerificationError(
                .malformedHeader, "webhook-signature v1 signature is not the base64 of an HMAC-SHA256 (32 bytes)")
        }

        let expected = hmacSHA256(
            key: key,
            parts: [Array(id.utf8), [UInt8(ascii: ".")], Array(timestampText.utf8), [UInt8(ascii: ".")], request.body])
        var matched = false
        for signature in signatures {
            if ConstantTime.equals(signature, expected) { matched = true }
        }
        guard matched else {
            throw WebhookVerificationError(
                .signatureMismatch,
                "webhook-signature has no v1 signature matching the body (check the endpoint's signing secret)")
        }
        try request.checkTolerance(timestamp, headerName: "webhook-timestamp")
    }

    /// The HMAC key a Standard Webhooks secret stands for: the base64 after `whsec_`.
    static func standardKey(_ secret: String) throws(WebhookVerificationError) -> [UInt8] {
        let encoded = secret.hasPrefix("whsec_") ? secret.dropFirst("whsec_".count) : secret[...]
        guard let key = Base64.decode(encoded), !key.isEmpty else {
            throw WebhookVerificationError(
                .badSecret, "the Standard Webhooks signing secret is not whsec_ followed by base64")
        }
        return key
    }
}
