import EnchargeKit
import EnchargeRules
import JSONKit

/// One rule's outcome for one input, in the terms `diff` compares: the events as wire JSON, the
/// skip reason or the failure message, and for a webhook fixture the answer `serve` would give.
struct DiffJobOutcome {
    enum Result {
        case mapped([JSONValue])
        case skipped(String)
        case failed(String)
    }

    var result: Result
    /// A webhook's answer, `{"response": BODY, "status": 202}` (no `response` for an empty body);
    /// nil for a record.
    var answer: JSONValue?

    init(_ outcome: RecordOutcome) {
        switch outcome {
        case .mapped(let events): result = .mapped(events.map(\.jsonValue))
        case .skipped(let reason): result = .skipped(reason)
        case .failed(let message, _): result = .failed(message)
        }
    }

    init(_ outcome: FixtureOutcome) {
        switch outcome.result {
        case .events(let events): result = .mapped(events)
        case .skip(let reason): result = .skipped(reason)
        case .error(let message): result = .failed(message)
        }
        if let status = outcome.status {
            var answer = JSONObject()
            answer["status"] = .integer(Int64(status))
            answer["response"] = outcome.response
            self.answer = .object(answer)
        }
    }

    var isFailure: Bool {
        if case .failed = result { return true }
        return false
    }

    /// The events, or none when the rule skipped or failed.
    var events: [JSONValue] {
        if case .mapped(let events) = result { return events }
        return []
    }

    /// `{"outcome":"mapped","events":2}`, `{"outcome":"skipped","reason":"..."}` or
    /// `{"outcome":"failed","error":"..."}`, with the webhook's `status`: the outcome in `diff --json`.
    var jsonValue: JSONValue {
        var members: [(String, JSONValue)] =
            switch result {
            case .mapped(let events): [("outcome", "mapped"), ("events", .integer(Int64(events.count)))]
            case .skipped(let reason): [("outcome", "skipped"), ("reason", .string(reason))]
            case .failed(let message): [("outcome", "failed"), ("error", .string(message))]
            }
        if let status = answer?["status"] { members.append(("status", status)) }
        return .object(JSONObject(members))
    }
}
