import JSONKit
import SystemKit

/// Expected against actual events (wire JSON, as `run --dry-run` prints them), by path:
/// `events[1].properties.plan: expected "pro", got "free"`, `events[2]: unexpected event "Paid invoice"`.
///
/// Events are paired by name in order (`alignment`), so an event added before others is one
/// `unexpected` line, not a change to every event after it. Indexes count from 0, as in every
/// `JSONDiff` path: an event on the expected side only is shown at its index there, every other
/// at its index in the actual list. A whole event present on one side only is named by its event
/// name (`missing event "Signed up"`); an identify event by the person's `email` and `userId`
/// (`missing identify {"email":"a@x.com"}`).
/// `test` words the two sides expected/got; `diff` words them was/now (see `Wording`).
struct EventListDiff {
    /// How a line names the two sides.
    enum Wording {
        /// `test`: `expected "pro", got "free"`, `missing …`, `unexpected …`.
        case expectedGot
        /// `diff` (old rule against new): `was "pro", now "free"`, `removed …`, `added …`.
        case wasNow

        fileprivate var labels: (changedFrom: String, changedTo: String, onlyExpected: String, onlyActual: String) {
            switch self {
            case .expectedGot: ("expected", "got", "missing", "unexpected")
            case .wasNow: ("was", "now", "removed", "added")
            }
        }
    }

    /// The differences, under the root `events`; empty when the lists match.
    let differences: [JSONDiff.Difference]

    init(expected: [JSONValue], actual: [JSONValue]) {
        func path(_ index: Int) -> JSONPath { JSONPath([.key("events"), .index(index)]) }
        differences = Self.alignment(expected: expected, actual: actual).flatMap { step in
            switch step {
            case .paired(let e, let a):
                JSONDiff(expected: expected[e], actual: actual[a], at: path(a)).differences
            case .onlyExpected(let e):
                [JSONDiff.Difference(path: path(e), change: .missing(expected: expected[e]))]
            case .onlyActual(let a):
                [JSONDiff.Difference(path: path(a), change: .unexpected(actual: actual[a]))]
            }
        }
    }

    /// Whether the two lists match.
    var isEmpty: Bool { differences.isEmpty }

    /// One line per difference, each starting with `prefix`. Values are compact JSON, and each line
    /// goes through `reportLine`, so an event value can neither drive the terminal nor flood it.
    func lines(wording: Wording, prefix: String = "") -> [String] {
        Self.lines(differences, wording: wording, prefix: prefix)
    }

    /// The lines of any `JSONDiff` differences (a webhook's status and response, say), worded as
    /// event differences are; a whole `events[N]` on one side is named as an event.
    static func lines(_ differences: [JSONDiff.Difference], wording: Wording, prefix: String = "") -> [String] {
        let labels = wording.labels
        return differences.map { difference in
            let components = difference.path.components
            let whole = components.count == 2 && components[0] == .key("events")
            let description: String
            switch difference.change {
            case .changed(let expected, let actual):
                description = "\(labels.changedFrom) \(expected.encoded()), \(labels.changedTo) \(actual.encoded())"
            case .missing(let expected):
                description = "\(labels.onlyExpected) \(whole ? naming(event: expected) : expected.encoded())"
            case .unexpected(let actual):
                description = "\(labels.onlyActual) \(whole ? naming(event: actual) : actual.encoded())"
            }
            return reportLine("\(prefix)\(difference.path): \(description)")
        }
    }

    /// `text` safe to print as one line of a report: control characters escaped (JSON leaves DEL
    /// and C1 alone), cut to fit `Diagnostics.maxLineBytes` with its `… (N bytes more)` marker.
    static func reportLine(_ text: String) -> String {
        Diagnostics.capped(Diagnostics.escaped(text), limit: Diagnostics.maxLineBytes - 32)
    }

    /// `event "Signed up"`, `identify {"email":"a@x.com"}`, or the compact JSON of a value that is
    /// not an event with a name.
    static func naming(event: JSONValue) -> String {
        guard case .string(let name)? = event["name"] else { return event.encoded() }
        guard name == "identify" else { return "event \(JSONValue.string(name).encoded())" }
        let user = event["user"]?.objectValue ?? JSONObject()
        let identity = JSONObject(user.filter { $0.key == "email" || $0.key == "userId" }.map { ($0.key, $0.value) })
        return "identify \(JSONValue.object(identity.isEmpty ? user : identity).encoded())"
    }
}
