import EnchargeKit

/// Odd things a rule did that did not fail its record, counted by kind so that a run reports
/// each kind once, at the end, with how often it happened and where it happened first:
/// `warning: 231 tags contained a comma; Encharge splits tags at commas (first: rules.lua:12, record in.jsonl:2)`.
package struct RuleWarnings: Sendable {
    /// What a warning is about; one line per distinct kind.
    enum Kind: Hashable, Sendable {
        case tagWithComma
        case droppedAddress(field: String)
        case reservedKeyCase(key: String, expected: String)
        case ignoredReturn
    }

    struct Tally: Sendable {
        var count: Int
        /// The first offending value, when the kind has one to show.
        var firstValue: String?
        /// `rules.lua:12`, when known.
        var firstRuleLine: String?
        /// The record or request it happened in.
        var firstSource: String
    }

    private var tallies: [Kind: Tally] = [:]
    private var order: [Kind] = []

    package init() {}

    /// Whether nothing was noted.
    package var isEmpty: Bool { order.isEmpty }

    mutating func count(_ kind: Kind, value: String? = nil, ruleLine: String?, source: String) {
        if tallies[kind] != nil {
            tallies[kind]!.count += 1
            return
        }
        tallies[kind] = Tally(count: 1, firstValue: value, firstRuleLine: ruleLine, firstSource: source)
        order.append(kind)
    }

    mutating func note(_ warning: EventWarning, ruleLine: String?, source: String) {
        switch warning {
        case .tagWithComma: count(.tagWithComma, ruleLine: ruleLine, source: source)
        case .droppedAddress(let field, let value):
            count(.droppedAddress(field: field), value: value, ruleLine: ruleLine, source: source)
        case .reservedKeyCase(let key, let expected):
            count(.reservedKeyCase(key: key, expected: expected), ruleLine: ruleLine, source: source)
        }
    }

    /// Adds another engine's counts (a run with several engines reports once for all).
    package mutating func merge(_ other: RuleWarnings) {
        for kind in other.order {
            let theirs = other.tallies[kind]!
            if tallies[kind] != nil {
                tallies[kind]!.count += theirs.count
            } else {
                tallies[kind] = theirs
                order.append(kind)
            }
        }
    }

    /// One `warning:` line per kind, in the order they first happened.
    package func lines() -> [String] {
        order.map { kind in line(kind, tallies[kind]!) }
    }

    private func line(_ kind: Kind, _ tally: Tally) -> String {
        let n = tally.count
        let place = (tally.firstRuleLine.map { "\($0), " } ?? "") + "record \(tally.firstSource)"
        switch kind {
        case .tagWithComma:
            return
                "warning: \(n) tag\(n == 1 ? "" : "s") contained a comma; Encharge splits tags at commas (first: \(place))"
        case .droppedAddress(let field):
            let value = tally.firstValue.map { "\($0) " } ?? ""
            return
                "warning: \(n) \(field) value\(n == 1 ? " was" : "s were") not an IP address and left out of the event"
                + " (first \(value)at \(place)); give one address, for example encharge.client_ip(req)"
        case .reservedKeyCase(let key, let expected):
            return "warning: \(n) event\(n == 1 ? "" : "s") sent '\(key)' as a custom field; the Encharge field is"
                + " spelt '\(expected)' (first: \(place))"
        case .ignoredReturn:
            let function = tally.firstRuleLine.map { "on_record at \($0)" } ?? "on_record"
            return "warning: on_record's return value is ignored; emit events with encharge.event(t)"
                + " (\(function) returned a value for \(n) record\(n == 1 ? "" : "s"), first \(tally.firstSource))"
        }
    }
}
