// The generic `hmac` scheme, for providers without a scheme of their own: one header holding the
// HMAC (SHA-256 or SHA-1) of the raw body keyed with the secret's UTF-8 bytes, in hex (either case)
// or base64, optionally after a literal prefix such as `sha256=`. No timestamp, so no replay
// protection: prefer a named scheme when the provider has one.

import SystemKit

extension WebhookVerifier {
    static func verifyGenericHMAC(_ request: SignedRequest) throws(WebhookVerificationError) {
        let settings = request.options.hmac
        let name = settings.header
        var value = try request.require(name.lowercased(), displayName: name)
        if !settings.prefix.isEmpty {
            guard hasPrefixIgnoringCase(value, settings.prefix) else {
                throw WebhookVerificationError(.malformedHeader, "\(name) does not start with \(settings.prefix)")
            }
            value = value[value.utf8.index(value.startIndex, offsetBy: settings.prefix.utf8.count)...]
        }

        let key = Array(request.secret.utf8)
        let expected: [UInt8]
        let algorithmName: String
        switch settings.algorithm {
        case .sha256:
            expected = hmacSHA256(key: key, parts: [request.body])
            algorithmName = "HMAC-SHA256"
        case .sha1:
            expected = WebhookCrypto.hmacSHA1(key: key, message: request.body)
            algorithmName = "HMAC-SHA1"
        }

        let signature: [UInt8]?
        switch settings.encoding {
        case .hex: signature = Hex.decode(value)
        case .base64: signature = Base64.decode(value)
        }
        guard let signature, signature.count == expected.count else {
            let spelled =
                settings.encoding == .hex ? "\(expected.count * 2) hex digits" : "base64 of \(expected.count) bytes"
            throw WebhookVerificationError(
                .malformedHeader, "\(name) signature is not \(spelled) (an \(algorithmName))")
        }
        guard ConstantTime.equals(signature, expected) else {
            throw WebhookVerificationError(
                .signatureMismatch,
                "\(name) does not match the body under \(algorithmName) (check the secret, the algorithm and the encoding)"
            )
        }
    }
}
