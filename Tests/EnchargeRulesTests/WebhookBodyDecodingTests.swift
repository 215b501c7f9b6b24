import Testing

@testable import EnchargeRules

/// What serve reads out of a webhook body before the rule runs: form fields decoded exactly or
/// refused, and a Stripe event's id.
@Suite struct WebhookBodyDecodingTests {
    struct FormCase: CustomTestStringConvertible, Sendable {
        var body: String
        /// The decoded pairs, or nil when the body must be refused.
        var pairs: [[String]]?
        var testDescription: String { body }
    }

    @Test(arguments: [
        FormCase(body: "a=1&b=x%20y+z", pairs: [["a", "1"], ["b", "x y z"]]),
        FormCase(
            body: "note=caf%C3%A9%0D%0A&empty=&flag", pairs: [["note", "café\r\n"], ["empty", ""], ["flag", ""]]),
        FormCase(body: "pct=100%25&&x=%7e", pairs: [["pct", "100%"], ["x", "~"]]),
        FormCase(body: "note=%FF", pairs: nil),
        FormCase(body: "note=%C3", pairs: nil),
        FormCase(body: "note=%+4", pairs: nil),
        FormCase(body: "note=%-4", pairs: nil),
        FormCase(body: "note=50%4", pairs: nil),
        FormCase(body: "note=50%", pairs: nil),
        FormCase(body: "n%zzote=1", pairs: nil),
    ])
    func formBodiesDecodeExactlyOrAreRefused(_ testCase: FormCase) {
        let result = Result { () throws(FormDecodingError) in try parseForm(Array(testCase.body.utf8)) }
        switch (result, testCase.pairs) {
        case (.success(let pairs), let expected?):
            #expect(pairs.map { [$0.0, $0.1] } == expected)
        case (.failure(let error), nil):
            #expect(error.description.hasPrefix("the form "), "\(error)")
            #expect(!error.description.contains("\u{FFFD}"))
        case (.success(let pairs), nil):
            Issue.record("\(testCase.body) decoded to \(pairs) instead of being refused")
        case (.failure(let error), _?):
            Issue.record("\(testCase.body) was refused: \(error)")
        }
    }

    @Test func aBadEscapeIsNamedWithoutItsControlBytes() {
        #expect(throws: FormDecodingError.self) { try parseForm(Array("a=%\u{1b}[".utf8)) }
        do {
            _ = try parseForm(Array("a=%\u{1b}[".utf8))
        } catch {
            #expect(error.description.contains(#"'%\x1b['"#), "\(error)")
        }
    }

    @Test(
        arguments: [
            (#"{"id":"evt_1","object":"event","data":{"object":{"id":"in_1"}}}"#, "evt_1"),
            (#"{"data":{"object":{"id":"in_1"}},"id":"evt_2"}"#, "evt_2"),
            (#"{"object":"event","data":{"id":"nested"}}"#, nil),
            (#"[{"id":"evt_in_array"}]"#, nil),
            (#"{"id":42}"#, nil),
            (#"{"id":""}"#, nil),
        ] as [(String, String?)])
    func aStripeEventIdIsTheTopLevelIdString(body: String, id: String?) throws {
        #expect(try StripeEventID.find(in: Array(body.utf8)) == id)
    }

    @Test func aBodyThatIsNotJSONHasNoStripeEventId() {
        #expect(throws: (any Error).self) { try StripeEventID.find(in: Array(#"{"id":"evt_1""#.utf8)) }
    }
}
