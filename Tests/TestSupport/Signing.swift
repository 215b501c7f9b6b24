import Crypto
import Foundation

/// Digests and MACs through swift-crypto, in the encodings providers put in headers, so the tests
/// sign requests the way senders do without a hand-written SHA-256.
public enum Signing {
    /// SHA-256 of `message`.
    public static func sha256(_ message: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: message)) }

    /// HMAC-SHA256 of `message` under `key`.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// HMAC-SHA1 of `message` under `key` (GitHub's legacy header, generic HMAC with `sha1`).
    public static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// Lower-case hex.
    public static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Standard base64 with padding.
    public static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}

/// The providers' signing schemes as `serve --verify` names them, with how a sender signs.
public enum SigningScheme: String, CaseIterable, CustomStringConvertible, Sendable {
    case stripe, github, shopify, standard, hmac

    /// The `--verify` name.
    public var description: String { rawValue }

    /// Stripe and Standard Webhooks sign a timestamp and refuse old ones.
    public var hasTimestamp: Bool { self == .stripe || self == .standard }

    /// A secret in the form the provider's dashboard shows it.
    public func secret(_ seed: String) -> String {
        switch self {
        case .stripe: "whsec_" + seed
        case .standard: "whsec_" + Signing.base64(Array("standard-key-\(seed)".utf8))
        default: seed
        }
    }

    /// The headers a sender adds to `body` signed with `secret` at Unix time `timestamp`;
    /// `id` is the delivery id for the schemes that carry one. Generic HMAC signs into
    /// `hmacHeader` as lower-case hex.
    public func sign(
        _ body: [UInt8], secret: String, timestamp: Int, id: String, hmacHeader: String = "X-Signature"
    ) -> [(String, String)] {
        let key = Array(secret.utf8)
        switch self {
        case .stripe:
            let mac = Signing.hmacSHA256(key: key, message: Array("\(timestamp).".utf8) + body)
            return [("Stripe-Signature", "t=\(timestamp),v1=\(Signing.hex(mac))")]
        case .github:
            return [
                ("X-Hub-Signature-256", "sha256=" + Signing.hex(Signing.hmacSHA256(key: key, message: body))),
                ("X-GitHub-Delivery", id),
            ]
        case .shopify:
            return [
                ("X-Shopify-Hmac-Sha256", Signing.base64(Signing.hmacSHA256(key: key, message: body))),
                ("X-Shopify-Webhook-Id", id),
            ]
        case .standard:
            let decoded = Data(base64Encoded: String(secret.dropFirst("whsec_".count))).map { Array($0) } ?? []
            let mac = Signing.hmacSHA256(key: decoded, message: Array("\(id).\(timestamp).".utf8) + body)
            return [
                ("webhook-id", id), ("webhook-timestamp", "\(timestamp)"),
                ("webhook-signature", "v1," + Signing.base64(mac)),
            ]
        case .hmac:
            return [(hmacHeader, Signing.hex(Signing.hmacSHA256(key: key, message: body)))]
        }
    }
}
