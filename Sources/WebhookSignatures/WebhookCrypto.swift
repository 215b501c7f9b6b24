import Crypto
import SystemKit

/// The hashing and encoding primitives behind the signature schemes, also offered to rules through
/// Lua's `crypto` module so that a rule can check a scheme this target does not know.
public enum WebhookCrypto {
    /// HMAC-SHA256 of `message` under `key`, as 32 raw bytes.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// HMAC-SHA1 of `message` under `key`, as 20 raw bytes (only for providers that still sign with it).
    public static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// HMAC-SHA256 of `message` under `key`, in lower-case hex.
    public static func hmacSHA256Hex(key: [UInt8], message: [UInt8]) -> String {
        Hex.encode(hmacSHA256(key: key, message: message))
    }

    /// HMAC-SHA1 of `message` under `key`, in lower-case hex.
    public static func hmacSHA1Hex(key: [UInt8], message: [UInt8]) -> String {
        Hex.encode(hmacSHA1(key: key, message: message))
    }

    /// SHA-256 of `data`, in lower-case hex.
    public static func sha256Hex(_ data: [UInt8]) -> String {
        Hex.encode(Array(SHA256.hash(data: data)))
    }
}
