import JSONKit

/// What a fixture's input gave, or what the fixture expects it to give: events, a skip or an
/// error, and for a webhook the status and the response body `serve` answers with.
///
/// As an expectation, `skip` and `error` hold substrings of the reason or message; as an actual
/// outcome, the whole text.
struct FixtureOutcome: Sendable, Equatable {
    /// What the rule did with the input.
    enum Result: Sendable, Equatable {
        /// The wire events, as `run --dry-run` prints them, in emission order.
        case events([JSONValue])
        /// `encharge.skip(reason)`.
        case skip(String)
        /// The rule failed (or, for a webhook, the request was refused before or instead of the
        /// rule's answer: 400, 401, 404).
        case error(String)
    }

    var result: Result
    /// The HTTP status `serve` answers (webhooks only).
    var status: Int?
    /// The body `serve` answers: JSON when it is a JSON array, object, number, boolean or null,
    /// else the text as a JSON string (webhooks only; nil when the body is empty or not compared).
    var response: JSONValue?

    init(_ result: Result, status: Int? = nil, response: JSONValue? = nil) {
        self.result = result
        self.status = status
        self.response = response
    }

    /// The fixture members that hold this outcome, as `--update` writes them.
    var members: [(String, JSONValue)] {
        var members: [(String, JSONValue)]
        switch result {
        case .events(let events): members = [("events", .array(events))]
        case .skip(let reason): members = [("skip", .string(reason))]
        case .error(let message): members = [("error", .string(message))]
        }
        if let status { members.append(("status", .integer(Int64(status)))) }
        if let response { members.append(("response", response)) }
        return members
    }

    /// The outcome as `--update` writes it: an error that starts with the rules file's path
    /// (`examples/stripe/rules.lua:12: ...`) starts with the file's name instead, so the fixture,
    /// which matches errors by substring, passes from any working directory.
    func portable(rulesPath: String) -> FixtureOutcome {
        guard case .error(let message) = result, let slash = rulesPath.lastIndex(of: "/"),
            message.hasPrefix(rulesPath + ":")
        else { return self }
        var outcome = self
        outcome.result = .error(
            String(rulesPath[rulesPath.index(after: slash)...]) + message.dropFirst(rulesPath.count))
        return outcome
    }

    /// A response body as a fixture holds it: the JSON it parses to unless that is a lone string
    /// (then the text, like any body that is not JSON); nil for an empty body.
    static func response(body: [UInt8]) -> JSONValue? {
        guard !body.isEmpty else { return nil }
        if let value = try? JSONValue(parsing: body), value.stringValue == nil { return value }
        return .string(String(decoding: body, as: UTF8.self))
    }
}
