import EnchargeKit
import EnchargeRules
import JSONKit

/// One rule's outcome for one input, in the terms `diff` compares: the events as wire JSON, the
/// skip reason, or the failure message.
enum DiffJobOutcome {
    case mapped([JSONValue])
    case skipped(String)
    case failed(String)

    init(_ outcome: RecordOutcome) {
        switch outcome {
        case .mapped(let events): self = .mapped(events.map(\.jsonValue))
        case .skipped(let reason): self = .skipped(reason)
        case .failed(let message, _): self = .failed(message)
        }
    }

    var isFailure: Bool {
        if case .failed = self { return true }
        return false
    }

    /// The events, or none when the rule skipped or failed.
    var events: [JSONValue] {
        if case .mapped(let events) = self { return events }
        return []
    }

    /// `{"outcome":"mapped","events":2}`, `{"outcome":"skipped","reason":"..."}`,
    /// `{"outcome":"failed","error":"..."}`: the outcome in `diff --json`.
    var jsonValue: JSONValue {
        switch self {
        case .mapped(let events): ["outcome": "mapped", "events": .integer(Int64(events.count))]
        case .skipped(let reason): ["outcome": "skipped", "reason": .string(reason)]
        case .failed(let message): ["outcome": "failed", "error": .string(message)]
        }
    }
}
