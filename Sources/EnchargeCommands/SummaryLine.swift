import EnchargeKit
import EnchargeRules
import SystemKit

/// `done: 12 records: 10 with events, 1 skipped, 1 failed; 20 events; 20 delivered, ... in 0.52 s
/// (23 records/s)`. The outcomes add up to the count; rarer ones (records that emitted nothing,
/// refused dry-run entries) appear only when there are some.
func summaryLine(
    _ s: MappingSummary, stats: DeliveryStats?, spooled: SpoolTally? = nil, interrupted: Bool, stopped: Bool = false,
    title: String = "",
    noun: (one: String, many: String) = ("record", "records")
) -> String {
    var line = title + (interrupted ? "interrupted: " : stopped ? "stopped: " : "done: ") + outcomeCounts(s, noun: noun)
    if !s.inputErrors.isEmpty {
        line += "; \(s.inputErrors.count) input\(s.inputErrors.count == 1 ? "" : "s") not read to the end"
    }
    if let stats {
        line += "; \(stats.delivered) delivered, \(stats.retries) retried, \(stats.deadLettered) dead-lettered"
        line += ", latency p50 \(milliseconds(stats.p50Latency)) p99 \(milliseconds(stats.p99Latency))"
    }
    if let spooled {
        line += "; \(spooled.spooled) spooled"
        if spooled.duplicates > 0 { line += ", \(spooled.duplicates) already spooled by an earlier run" }
    }
    line += " in \(formatSeconds(s.seconds)) (\(Int(s.recordsPerSecond.rounded())) \(noun.many)/s)"
    return line
}

/// `12 records: 10 with events, 1 skipped, 1 failed; 20 events`: the part of a summary line
/// shared by `run`, `replay` and `check --input`.
func outcomeCounts(_ s: MappingSummary, noun: (one: String, many: String) = ("record", "records")) -> String {
    var outcomes = ["\(s.mapped) with events"]
    if s.withoutEvents > 0 { outcomes.append("\(s.withoutEvents) with none") }
    outcomes.append("\(s.skipped) skipped")
    outcomes.append("\(s.failed) failed")
    if s.refused > 0 { outcomes.append("\(s.refused) refused (dry run)") }
    return "\(s.records) \(s.records == 1 ? noun.one : noun.many): " + outcomes.joined(separator: ", ")
        + "; \(s.events) event\(s.events == 1 ? "" : "s")"
}

func milliseconds(_ seconds: Double) -> String { "\(Int((seconds * 1000).rounded())) ms" }
