import SystemKit
import Testing

@Suite struct ASCIIWhitespaceTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var text: String
        var set: ASCIIWhitespace
        var trimmed: String
        var testDescription: String { "\(set): \(text.debugDescription)" }
    }

    @Test(
        "trimming removes only the set's bytes, only at the ends",
        arguments: [
            Case(text: "", set: .all, trimmed: ""),
            Case(text: " \t\n\r\u{0B}\u{0C}", set: .all, trimmed: ""),
            Case(text: " \t\n\r\u{0B}\u{0C}", set: .spacesAndTabs, trimmed: "\n\r\u{0B}\u{0C}"),
            Case(text: "  a b  ", set: .all, trimmed: "a b"),
            Case(text: "\tvalue\t", set: .spacesAndTabs, trimmed: "value"),
            Case(text: "120\r\n", set: .all, trimmed: "120"),
            Case(text: "120\r\n", set: .spacesAndTabs, trimmed: "120\r\n"),
            Case(text: "secret\n", set: .all, trimmed: "secret"),
            Case(text: "a\u{0B}", set: .all, trimmed: "a"),
            // Non-ASCII space is content, never trimmed.
            Case(text: "\u{A0}x\u{A0}", set: .all, trimmed: "\u{A0}x\u{A0}"),
            Case(text: "\u{2003}x", set: .all, trimmed: "\u{2003}x"),
            Case(text: " é ", set: .all, trimmed: "é"),
            Case(text: "inner  space", set: .all, trimmed: "inner  space"),
            // 0x08 and 0x0E sit just outside 0x09-0x0D.
            Case(text: "\u{08}x\u{0E}", set: .all, trimmed: "\u{08}x\u{0E}"),
        ])
    func trimming(_ testCase: Case) {
        #expect(String(testCase.text.trimming(testCase.set)) == testCase.trimmed)
        #expect(String(testCase.text[...].trimming(testCase.set)) == testCase.trimmed)
    }

    @Test("the two sets hold exactly the documented bytes")
    func sets() {
        let all = (0...255).map(UInt8.init).filter { ASCIIWhitespace.all.contains($0) }
        #expect(all == [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20])
        let ows = (0...255).map(UInt8.init).filter { ASCIIWhitespace.spacesAndTabs.contains($0) }
        #expect(ows == [0x09, 0x20])
    }
}
