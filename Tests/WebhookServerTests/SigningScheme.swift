import Crypto
import Foundation

/// The providers' signing schemes as `serve --verify` names them, with how a sender signs
/// (HMAC-SHA256 through swift-crypto).
enum SigningScheme: String, CaseIterable, CustomStringConvertible, Sendable {
    case stripe, github, shopify, standard, hmac

    var description: String { rawValue }

    /// Stripe and Standard Webhooks sign a timestamp and refuse old ones.
    var hasTimestamp: Bool { self == .stripe || self == .standard }

    /// A secret in the form the provider's dashboard shows it.
    func secret(_ seed: String) -> String {
        switch self {
        case .stripe: "whsec_" + seed
        case .standard: "whsec_" + Data("standard-key-\(seed)".utf8).base64EncodedString()
        default: seed
        }
    }

    /// The headers a sender adds to `body` signed with `secret` at Unix time `timestamp`.
    func sign(_ body: [UInt8], secret: String, timestamp: Int, id: String) -> [(String, String)] {
        let key = Array(secret.utf8)
        switch self {
        case .stripe:
            let mac = Self.hmac(key: key, Array("\(timestamp).".utf8) + body)
            return [("Stripe-Signature", "t=\(timestamp),v1=\(Self.hex(mac))")]
        case .github:
            return [("X-Hub-Signature-256", "sha256=" + Self.hex(Self.hmac(key: key, body))), ("X-GitHub-Delivery", id)]
        case .shopify:
            return [("X-Shopify-Hmac-Sha256", Self.base64(Self.hmac(key: key, body))), ("X-Shopify-Webhook-Id", id)]
        case .standard:
            let decoded = Data(base64Encoded: String(secret.dropFirst("whsec_".count))).map { Array($0) } ?? []
            let mac = Self.hmac(key: decoded, Array("\(id).\(timestamp).".utf8) + body)
            return [("webhook-id", id), ("webhook-timestamp", "\(timestamp)"), ("webhook-signature", "v1," + Self.base64(mac))]
        case .hmac:
            return [("X-Signature", Self.hex(Self.hmac(key: key, body)))]
        }
    }

    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}
