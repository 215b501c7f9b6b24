import SystemKit
import Testing

@Suite struct DiagnosticsTests {
    @Test(arguments: [
        ("plain text, ünïcode ✓", "plain text, ünïcode ✓"),
        ("a\nb", #"a\nb"#),
        ("a\r\nb", #"a\r\nb"#),
        ("tab\there", #"tab\there"#),
        ("nul\0end", #"nul\0end"#),
        ("\u{1B}[31mred\u{1B}[0m", #"\u001b[31mred\u001b[0m"#),
        ("bell\u{07} del\u{7F} csi\u{9B}", #"bell\u0007 del\u007f csi\u009b"#),
    ])
    func untrustedTextIsEscaped(_ text: String, _ expected: String) {
        #expect(Diagnostics.escaped(text) == expected)
    }

    @Test func layoutKeepsNewlinesAndTabsButNotEscapes() {
        #expect(
            Diagnostics.escaped("line 1\n\tline 2\r\u{1B}[K", keepingLayout: true) == "line 1\n\tline 2\\r\\u001b[K")
    }

    @Test func longTextIsCutAtACharacterWithTheCountLeftOut() {
        #expect(Diagnostics.capped("short") == "short")
        #expect(Diagnostics.capped(String(repeating: "a", count: 4096)) == String(repeating: "a", count: 4096))
        let long = String(repeating: "a", count: 4095) + "é" + String(repeating: "b", count: 10)
        // "é" is two bytes and would straddle the limit: it is left out whole.
        #expect(Diagnostics.capped(long) == String(repeating: "a", count: 4095) + "… (12 bytes more)")
    }

    @Test func textCutTwiceKeepsOneMarkerWithTheWholeCount() {
        let once = String(repeating: "a", count: 100).cappedForDiagnostics(maxBytes: 50)
        #expect(once == String(repeating: "a", count: 50) + "… (50 bytes more)")
        // Cut again shorter, and with text around it: the marker counts both cuts.
        #expect(Diagnostics.capped(once, limit: 40) == String(repeating: "a", count: 40) + "… (60 bytes more)")
        #expect(
            Diagnostics.capped("x: " + once + " (record in.jsonl:2)", limit: 43)
                == "x: " + String(repeating: "a", count: 40) + "… (80 bytes more)")
        // Text already within the limit but for its marker is left as it is.
        #expect(Diagnostics.capped(once, limit: 50) == once)
    }

    @Test func aLineKeepsItsLayoutEndsInOneNewlineAndIsCapped() {
        #expect(Diagnostics.line("x: error: bad\u{1B}[2J\n\ttraceback") == "x: error: bad\\u001b[2J\n\ttraceback\n")
        #expect(Diagnostics.line("already ended\n") == "already ended\n")
        let long = Diagnostics.line(String(repeating: "a", count: 5000))
        #expect(long == String(repeating: "a", count: 4096) + "… (904 bytes more)\n")
    }
}
