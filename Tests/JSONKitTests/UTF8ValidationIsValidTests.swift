import Testing

@testable import JSONKit

/// `UTF8Validation.isValid` says yes exactly where `String(validating:)` does.
@Suite struct UTF8ValidationIsValidTests {
    func agrees(_ bytes: [UInt8]) -> Bool {
        let expected = String(validating: bytes, as: UTF8.self) != nil
        return bytes.withUnsafeBytes { UTF8Validation.isValid($0) } == expected
    }

    @Test(
        arguments: [
            [], Array("plain ascii, longer than eight bytes".utf8), Array("é日本😀".utf8),
            [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xF5, 0x80, 0x80, 0x80], [0xFF], [0x80], [0xE6, 0x97], Array("12345678".utf8) + [0xC3],
            Array("1234567".utf8) + [0xC3, 0xA9] + Array("12345678".utf8),
        ] as [[UInt8]])
    func agreesWithTheStandardLibrary(bytes: [UInt8]) {
        #expect(agrees(bytes))
    }

    @Test(arguments: UTF8ValidationTests.cases)
    func followsRFC3629LikeTheParser(bytes: [UInt8], valid: Bool) {
        #expect(bytes.withUnsafeBytes { UTF8Validation.isValid($0) } == valid)
    }

    @Test func agreesOnEveryTwoAndThreeByteSequenceAfterAnASCIIRun() {
        var prefix = Array("abcdefghi".utf8)
        for b0 in UInt8(0x80)...0xFF {
            for b1 in UInt8(0x00)...0xFF {
                prefix.removeSubrange(9...)
                prefix += [b0, b1]
                #expect(agrees(prefix), "\(b0) \(b1)")
                prefix.append(0xA0)
                #expect(agrees(prefix), "\(b0) \(b1) a0")
            }
        }
    }

    @Test func agreesOnSeededRandomBytes() {
        var generator = SeededBytes(seed: 0x5EED)
        for length in 0..<400 {
            let bytes = (0..<length % 40).map { _ in generator.next() }
            #expect(agrees(bytes))
        }
    }
}

/// A fixed byte sequence (xorshift), biased toward the high bytes where UTF-8 is interesting.
struct SeededBytes {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt8 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        let byte = UInt8(truncatingIfNeeded: state)
        return state & 0x100 == 0 ? byte | 0x80 : byte & 0x7F
    }
}
