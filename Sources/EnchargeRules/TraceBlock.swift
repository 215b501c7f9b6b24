import EnchargeKit
import JSONKit
import SystemKit

/// The `--trace` block of one record or request, for people on standard error:
///
/// ```
/// trace signups.jsonl:42
///   rules.lua:12  identify {"email":"ada@example.com","firstName":"Ada"}
///   rules.lua:7   info: looking up plan
///   rules.lua:14  track "Signed up" {"user":{"email":"ada@example.com"},"properties":{"plan":"pro"}}
///   outcome: 2 events
/// ```
///
/// The rule lines form one column. An event shows as `identify` or `track "Name"` and the wire
/// JSON `run --dry-run` prints less its name (`identify` shows the user alone when that is all it
/// holds), cut past `maxEventBytes`. Every value the input or the rule chose is escaped, so a record
/// can never forge a line of the block; an error's traceback follows it, indented.
package enum TraceBlock {
    /// Bytes of an event's JSON shown; the rest is counted in `… (N bytes more)`.
    package static let maxEventBytes = 2048

    /// The block: `trace HEADER`, one line per entry, `outcome: OUTCOME`, each ending in a newline.
    /// `header` names the input (`signups.jsonl:42`, `POST /stripe req_…`) and is escaped here.
    package static func render(header: String, entries: [RuleTrace.Entry], outcome: String) -> String {
        let width = entries.reduce(0) { max($0, $1.ruleLine.map { Diagnostics.escaped($0).count } ?? 0) }
        var block = Diagnostics.line("trace " + Diagnostics.escaped(header))
        for entry in entries {
            let column = Diagnostics.escaped(entry.ruleLine ?? "")
            let indent = width == 0 ? "  " : "  " + column + String(repeating: " ", count: width - column.count + 2)
            block += Diagnostics.line(indent + text(of: entry.kind))
            if case .error(_, let traceback?) = entry.kind {
                let frames = String(repeating: " ", count: indent.count + 2)
                for frame in traceback.split(separator: "\n") where frame != "stack traceback:" {
                    block += Diagnostics.line(frames + Diagnostics.escaped(frame.drop { $0 == "\t" }))
                }
            }
        }
        return block + Diagnostics.line("  outcome: " + Diagnostics.escaped(outcome))
    }

    /// The outcome of a record: `2 events`, `1 event`, `no events`, `skipped` or `failed`.
    package static func outcome(of outcome: RecordOutcome) -> String {
        switch outcome {
        case .mapped(let events): return eventCount(events.count)
        case .skipped: return "skipped"
        case .failed: return "failed"
        }
    }

    /// `2 events`, `1 event`, `no events`.
    package static func eventCount(_ count: Int) -> String {
        count == 0 ? "no events" : count == 1 ? "1 event" : "\(count) events"
    }

    /// The text of one entry after its rule line.
    static func text(of kind: RuleTrace.Kind) -> String {
        switch kind {
        case .event(let event): return eventText(event)
        case .log(let level, let message):
            // Already escaped and capped by the log module, as the log line would be.
            return (level == .warn ? "warning" : "\(level)") + ": " + message
        case .skip(let reason): return "skip: " + Diagnostics.escaped(reason)
        case .error(let message, _): return "error: " + Diagnostics.escaped(message)
        }
    }

    /// `identify {user}` or `track "Name" {"user":...,"properties":...}`.
    static func eventText(_ event: Event) -> String {
        var name = JSONWriter()
        name.writeString(event.name)
        // The wire form starts `{"name":<name>,`; what follows is the rest of the event.
        let rest = "{" + String(decoding: event.wireJSON().dropFirst(9 + name.bytes.count), as: UTF8.self)
        var label = "track " + String(decoding: name.bytes, as: UTF8.self)
        var shown = rest
        if event.name == "identify" {
            label = "identify"
            if event.properties == nil, event.sourceIp == nil {
                var user = JSONWriter()
                user.write(.object(event.user))
                shown = String(decoding: user.bytes, as: UTF8.self)
            }
        }
        return label + " " + Diagnostics.escaped(Diagnostics.capped(shown, limit: maxEventBytes))
    }
}
