import JSONKit

extension FixtureOutcome {
    /// How `actual` differs from this expectation, one line each, empty when it meets it: events
    /// compared by path (`events[1].properties.plan: expected "pro", got "free"`; numbers by value),
    /// a skip or error by substring, a webhook's status exactly, and its response (when the
    /// fixture gives one) as JSON or, for a string, as the body's text.
    func mismatches(_ actual: FixtureOutcome) -> [String] {
        var lines: [String] = []
        switch (result, actual.result) {
        case (.events(let expected), .events(let got)):
            lines += EventListDiff(expected: expected, actual: got).lines(wording: .expectedGot)
        case (.skip(let expected), .skip(let got)) where got.contains(expected): break
        case (.error(let expected), .error(let got)) where got.contains(expected): break
        default: lines.append("expected \(result.shortDescription), got \(actual.result.shortDescription)")
        }
        if let status, status != actual.status {
            lines.append("status: expected \(status), got \(actual.status.map(String.init) ?? "none")")
        }
        if let response, !(actual.response.map { JSONDiff.matches(response, $0) } ?? false) {
            lines.append(
                "response: expected \(response.encoded()), got \(actual.response.map { $0.encoded() } ?? "no body")")
        }
        return lines
    }
}

extension FixtureOutcome.Result {
    /// `2 events`, `skip "no email"`, `error "rules.lua:3: boom"`.
    var shortDescription: String {
        switch self {
        case .events(let events):
            events.isEmpty ? "no events" : events.count == 1 ? "1 event" : "\(events.count) events"
        case .skip(let reason): "skip \(JSONValue.string(reason).encoded())"
        case .error(let message): "error \(JSONValue.string(message).encoded())"
        }
    }
}
