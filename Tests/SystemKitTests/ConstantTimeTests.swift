import SystemKit
import Testing

@Suite struct ConstantTimeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var a: [UInt8]
        var b: [UInt8]
        var equal: Bool
        var testDescription: String { "\(a) vs \(b)" }
    }

    @Test(
        "equals is byte equality, lengths included",
        arguments: [
            Case(a: [], b: [], equal: true),
            Case(a: [1, 2, 3], b: [1, 2, 3], equal: true),
            Case(a: [1, 2, 3], b: [1, 2, 4], equal: false),
            Case(a: [9, 2, 3], b: [1, 2, 3], equal: false),
            Case(a: [1, 2, 3], b: [1, 2], equal: false),
            Case(a: [], b: [0], equal: false),
            // A shorter value padded with zeros must not equal the longer one.
            Case(a: [1, 2, 0], b: [1, 2], equal: false),
            Case(a: [0xFF], b: [0x7F], equal: false),
        ])
    func equals(_ testCase: Case) {
        #expect(ConstantTime.equals(testCase.a, testCase.b) == testCase.equal)
        #expect(ConstantTime.equals(testCase.b, testCase.a) == testCase.equal)
    }

    @Test("equals takes any byte collections")
    func mixedCollections() {
        let bytes = Array("signature".utf8)
        #expect(ConstantTime.equals(bytes, "signature".utf8))
        #expect(ConstantTime.equals(bytes[2...], "gnature".utf8))
        #expect(!ConstantTime.equals(bytes[...], "signaturE".utf8))
    }
}
