import Testing

@testable import EnchargeKit

/// `looksLikeEmailAddress` skips eight bytes at a time to the bytes that matter: it must answer
/// what the plain byte-at-a-time rule answers for every text, wherever the special bytes fall
/// relative to the eight-byte words, and for bytes that share the special bytes' low seven bits.
@Suite struct EventValidatorAddressCheckTests {
    /// The rule, one byte at a time: exactly one `@` after a non-empty local part, a dot in the
    /// domain neither first nor last, no empty label, no control character, space or DEL.
    static func reference(_ bytes: [UInt8]) -> Bool {
        var at = -1
        var lastDot = -1
        for (position, byte) in bytes.enumerated() {
            switch byte {
            case 0...0x20, 0x7F: return false
            case UInt8(ascii: "@"):
                if at >= 0 { return false }
                at = position
            case UInt8(ascii: "."):
                if at >= 0 {
                    if position == at + 1 || position == lastDot + 1 { return false }
                    lastDot = position
                }
            default: break
            }
        }
        return at > 0 && lastDot > at + 1 && lastDot < bytes.count - 1
    }

    static func fast(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { EventValidator.looksLikeEmailAddress($0) }
    }

    @Test(arguments: [
        ("taro.mueller0@mail.example.net", true), ("a@b.co", true), ("a@b.c.d", true), ("ab@cdefghijk.lmnop", true),
        ("a.b.c.d.e.f@g.h", true), ("é@ü.de", true), ("", false), ("@b.co", false), ("a@b", false),
        ("a@.co", false), ("a@b.", false), ("a@b..co", false), ("a@@b.co", false), ("a@b.co@c.de", false),
        ("a b@c.de", false), ("abcdefg\u{7F}@b.co", false), ("abcdefgh@ijklmno\t.co", false),
        ("abcdefgh@ijklmnop.qrstuvwx.", false), ("abcdefgh@ijklmnop.qrstuvw.x", true),
    ])
    func answersTheRuleOnAddresses(text: String, expected: Bool) {
        #expect(Self.fast(Array(text.utf8)) == expected)
        #expect(Self.reference(Array(text.utf8)) == expected)
    }

    /// Every text up to 9 bytes over the four bytes that decide (`a`, `@`, `.`, space), so each
    /// special byte is met at each position of a word and across the word boundary.
    @Test func agreesWithTheRuleOnEveryShortText() {
        let alphabet: [UInt8] = [UInt8(ascii: "a"), UInt8(ascii: "@"), UInt8(ascii: "."), 0x20]
        var mismatches: [[UInt8]] = []
        for length in 0...9 {
            var digits = [Int](repeating: 0, count: length)
            while true {
                let text = digits.map { alphabet[$0] }
                if Self.fast(text) != Self.reference(text) { mismatches.append(text) }
                var i = 0
                while i < length && digits[i] == alphabet.count - 1 {
                    digits[i] = 0
                    i += 1
                }
                if i == length { break }
                digits[i] += 1
            }
        }
        #expect(mismatches.isEmpty)
    }

    /// Long random texts (a fixed seed) weighted towards the bytes next to the special ones:
    /// 0x1F to 0x21, 0x7E to 0x80, `?`, `-`, `/`, `A`, and those with the high bit set (0xA0, 0xAE,
    /// 0xC0, 0xFF), which share a special byte's low seven bits.
    @Test func agreesWithTheRuleOnRandomTexts() {
        let bytes: [UInt8] = [
            0x00, 0x1F, 0x20, 0x21, 0x2D, 0x2E, 0x2F, 0x3F, 0x40, 0x41, 0x7E, 0x7F, 0x80, 0xA0, 0xAE, 0xC0, 0xFF,
        ]
        let common: [UInt8] = Array("abcxyz0189".utf8)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var mismatches: [[UInt8]] = []
        var accepted = 0
        for _ in 0..<50_000 {
            let length = next() % 41
            var text: [UInt8] = []
            for _ in 0..<length {
                switch next() % 16 {
                case 0: text.append(bytes[next() % bytes.count])
                case 1, 2: text.append(UInt8(ascii: "."))
                case 3: text.append(UInt8(ascii: "@"))
                default: text.append(common[next() % common.count])
                }
            }
            let answer = Self.reference(text)
            if answer { accepted += 1 }
            if Self.fast(text) != answer { mismatches.append(text) }
        }
        #expect(mismatches.isEmpty)
        #expect(accepted > 1_000, "the texts reach both answers")
    }
}
