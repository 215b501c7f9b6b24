import EnchargeRules
import SystemKit

/// Counts of a run, for the summary line and the exit code. Every record read lands in exactly one
/// outcome: `records == mapped + withoutEvents + skipped + failed + refused`.
package struct MappingSummary: Sendable {
    package var records = 0
    /// Records that emitted at least one event.
    package var mapped = 0
    /// Records whose rule returned without emitting an event or calling `encharge.skip`.
    package var withoutEvents = 0
    package var skipped = 0
    package var failed = 0
    /// Dead-letter entries `replay` would not run again (written by a dry run).
    package var refused = 0
    /// Events emitted by all records.
    package var events = 0
    package var seconds: Double = 0
    package var interrupted = false
    /// Inputs that could not be read to their end, one error line each (these are not records).
    package var inputErrors: [String] = []
    /// When the run stopped early (`shouldStop`): the source of the first record not read, if any.
    package var firstUnreadSource: String?
    /// When the run stopped early: the inputs after it that were never opened.
    package var unopenedInputs: [String] = []
    package var recordsPerSecond: Double { seconds > 0 ? Double(records) / seconds : 0 }

    /// Counts one record's events: a record with events is mapped, one without is counted apart.
    /// After a stop, the line that says where the input was left unread, so the rest can be run
    /// again without the records already read (whose events were sent or dead-lettered); nil when
    /// every input was read.
    package func unreadInputMessage() -> String? {
        var parts: [String] = []
        if let firstUnreadSource { parts.append("the first record not read is \(firstUnreadSource)") }
        if !unopenedInputs.isEmpty {
            let names = unopenedInputs.map { Diagnostics.escaped($0) }
            let list = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " and " + names.last!
            parts.append("\(list) \(names.count == 1 ? "was" : "were") not opened")
        }
        guard !parts.isEmpty else { return nil }
        return "error: the run stopped before reading all input: " + parts.joined(separator: ", and ")
            + "; after fixing the cause, run again from there"
    }

    mutating func countMapped(events count: Int) {
        events += count
        if count > 0 { mapped += 1 } else { withoutEvents += 1 }
    }
}
