import EnchargeKit
import RecordSources
import SystemKit

/// The live line on a terminal: records read, events sent, in flight, retries, failures,
/// events/s and, for files, percent and ETA.
final class ProgressLine {
    let enabled: Bool
    let diagnostics: DiagnosticsPrinter
    var lastDraw = 0.0
    let start = SystemClock.monotonicSeconds()
    var drawn = false

    init(enabled: Bool, diagnostics: DiagnosticsPrinter) {
        self.enabled = enabled
        self.diagnostics = diagnostics
    }

    func update(summary: MappingSummary, delivery: DeliveryStats?, reader: RecordReader?) {
        guard enabled else { return }
        let now = SystemClock.monotonicSeconds()
        guard now - lastDraw >= 0.2 else { return }
        lastDraw = now
        var line = "\(summary.records) records"
        if let d = delivery {
            line +=
                ", \(d.delivered) sent, \(d.inFlight) in flight, \(d.retries) retries, \(summary.failed + d.deadLettered) failed, \(Int(d.eventsPerSecond)) events/s"
        } else {
            line +=
                ", \(summary.events) events, \(summary.failed) failed, \(Int(Double(summary.records) / max(now - start, 0.001))) records/s"
        }
        if let (read, total) = reader?.progress, let total, total > 0 {
            let fraction = min(1, Double(read) / Double(total))
            line += ", \(Int(fraction * 100))%"
            if fraction > 0.01 {
                let eta = (now - start) * (1 - fraction) / fraction
                line += ", ETA \(Int(eta.rounded())) s"
            }
        }
        diagnostics.writeRaw("\r\u{1B}[K" + line)
        drawn = true
    }

    func clear() {
        if drawn { diagnostics.writeRaw("\r\u{1B}[K") }
    }
}
