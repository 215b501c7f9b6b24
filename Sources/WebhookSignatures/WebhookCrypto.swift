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

    /// Standard base64 (RFC 4648 §4, `+/`, with `=` padding) of `bytes`.
    public static func base64Encode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var out = [UInt8]()
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= input.count {
            let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            out.append(base64Alphabet[Int(chunk >> 18 & 0x3F)])
            out.append(base64Alphabet[Int(chunk >> 12 & 0x3F)])
            out.append(base64Alphabet[Int(chunk >> 6 & 0x3F)])
            out.append(base64Alphabet[Int(chunk & 0x3F)])
            index += 3
        }
        let rest = input.count - index
        if rest > 0 {
            let chunk = UInt32(input[index]) << 16 | (rest == 2 ? UInt32(input[index + 1]) << 8 : 0)
            out.append(base64Alphabet[Int(chunk >> 18 & 0x3F)])
            out.append(base64Alphabet[Int(chunk >> 12 & 0x3F)])
            out.append(rest == 2 ? base64Alphabet[Int(chunk >> 6 & 0x3F)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes that `text` spells in standard base64, or `nil` when it is not base64: a character
    /// outside `A-Za-z0-9+/`, padding anywhere but at the end, or a length no encoding produces.
    /// Padding may be left out. Whitespace is not skipped.
    public static func base64Decode(_ text: some StringProtocol) -> [UInt8]? {
        var utf8 = Array(text.utf8)
        var padding = 0
        while utf8.last == UInt8(ascii: "=") && padding < 2 {
            utf8.removeLast()
            padding += 1
        }
        // With padding the whole must be a multiple of 4; without it, a remainder of 1 is impossible.
        if padding > 0 && (utf8.count + padding) % 4 != 0 { return nil }
        if utf8.count % 4 == 1 { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for char in utf8 {
            guard let value = base64Value(char) else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }

    private static let base64Alphabet = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static func base64Value(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): char - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): char - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): char - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
