import Foundation
import JSONKit

/// How one input's outcome under the new rule differs from its outcome under the old rule.
///
/// Failures compare by their message with the rule file and line taken out, so moving code or
/// renaming the file does not count as a change; skips compare by reason; events by path, numbers
/// by value (`JSONDiff`).
struct DiffJobComparison {
    /// Where the input lands in the closing counts.
    enum Kind: String {
        case unchanged, changed, newlyFailing, newlyPassing
    }

    let old: DiffJobOutcome
    let new: DiffJobOutcome
    let kind: Kind
    /// Old events as the expected side, new as the actual; none when the new rule fails (its
    /// message is the point, not the events it no longer makes).
    let events: EventListDiff
    /// How a webhook's answer (`status`, `response`) changed; none for records and when the new
    /// rule fails.
    let answer: [JSONDiff.Difference]

    init(old: DiffJobOutcome, new: DiffJobOutcome, oldRulesPath: String, newRulesPath: String) {
        self.old = old
        self.new = new
        events = EventListDiff(expected: new.isFailure ? [] : old.events, actual: new.events)
        answer =
            new.isFailure || (old.answer == nil && new.answer == nil)
            ? [] : JSONDiff(expected: old.answer ?? .null, actual: new.answer ?? .null).differences
        switch (old.result, new.result) {
        case (.failed(let was), .failed(let now)):
            let same =
                Self.withoutRulePositions(was, rulesPath: oldRulesPath)
                == Self.withoutRulePositions(now, rulesPath: newRulesPath)
            kind = same ? .unchanged : .changed
        case (.failed, _): kind = .newlyPassing
        case (_, .failed): kind = .newlyFailing
        case (.skipped(let was), .skipped(let now)): kind = was == now && answer.isEmpty ? .unchanged : .changed
        case (.mapped, .mapped): kind = events.isEmpty && answer.isEmpty ? .unchanged : .changed
        default: kind = .changed
        }
    }

    /// The lines under the input's source in the text report: `was skipped: …` when the old rule
    /// did not map it, `now fails: …` / `now skipped: …` / `now maps 2 events` when the outcome
    /// is not simply other events, then the event differences and a webhook's answer worded was/now
    /// (`status: was 202, now 200`, `response.accepted: was 1, now 2`).
    func lines(prefix: String) -> [String] {
        var outcomes: [String] = []
        switch old.result {
        case .mapped: break
        case .skipped(let reason): outcomes.append("was skipped: \(reason)")
        case .failed(let message): outcomes.append("was failing: \(message)")
        }
        switch new.result {
        case .mapped(let events):
            if case .mapped = old.result { break }
            outcomes.append("now maps \(events.count) event\(events.count == 1 ? "" : "s")")
        case .skipped(let reason): outcomes.append("now skipped: \(reason)")
        case .failed(let message): outcomes.append("now fails: \(message)")
        }
        return outcomes.map { EventListDiff.reportLine(prefix + $0) } + events.lines(wording: .wasNow, prefix: prefix)
            + EventListDiff.lines(answer, wording: .wasNow, prefix: prefix)
    }

    /// The input in `diff --json`: `{"source", "kind", "old", "new", "differences": [{"path", "old"?, "new"?}]}`,
    /// where a difference without `old` (or `new`) exists only on the other side; events first,
    /// then a webhook's answer.
    func jsonValue(source: String) -> JSONValue {
        let differences = (events.differences + answer).map { difference -> JSONValue in
            var object = JSONObject()
            object["path"] = .string(difference.path.description)
            switch difference.change {
            case .changed(let was, let now):
                object["old"] = was
                object["new"] = now
            case .missing(let was): object["old"] = was
            case .unexpected(let now): object["new"] = now
            }
            return .object(object)
        }
        return [
            "source": .string(source), "kind": .string(kind.rawValue), "old": old.jsonValue, "new": new.jsonValue,
            "differences": .array(differences),
        ]
    }

    /// `message` with each `rules.lua:14` (and bare `rules.lua`) of `rulesPath` taken out, also
    /// where Lua wrote the path cut to `...tail` (see `luaChunkName(of:)`).
    static func withoutRulePositions(_ message: String, rulesPath: String) -> String {
        var message = message
        for name in [luaChunkName(of: rulesPath), rulesPath] where !name.isEmpty {
            var result = ""
            var rest = message[...]
            while let found = rest.range(of: name) {
                result += rest[..<found.lowerBound]
                rest = rest[found.upperBound...]
                if rest.first == ":", rest.dropFirst().first?.isNumber == true {
                    rest = rest.dropFirst().drop(while: \.isNumber)
                }
            }
            message = result + rest
        }
        return message
    }

    /// How Lua names a rules file in its messages: the path, or `...` and its last 56 bytes when
    /// the path is longer than LUA_IDSIZE (60) allows.
    static func luaChunkName(of rulesPath: String) -> String {
        let bytes = Array(rulesPath.utf8)
        guard bytes.count > 59 else { return rulesPath }
        return "..." + String(decoding: bytes.suffix(56), as: UTF8.self)
    }
}
