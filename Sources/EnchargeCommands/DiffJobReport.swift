import JSONKit
import SystemKit

/// What `diff` writes on stdout, as it goes: for each input whose outcome changed a block (its
/// source, then the changes indented) or one JSON line, and at the end the counts. Only the counts
/// are kept, so memory stays flat however many inputs are read.
final class DiffJobReport {
    private let output: any OutputWriter
    private let json: Bool
    private(set) var counts = DiffJobCounts()
    /// The input being compared, for a watchdog that gives a rule call up.
    var currentSource: String?

    /// How the inputs ended: all read, or a rule call stuck past its time limit stopped the diff.
    enum Ending {
        case complete, stopped
    }

    init(output: any OutputWriter, json: Bool) {
        self.output = output
        self.json = json
    }

    /// Counts the input and, unless it is unchanged, writes what changed.
    func add(_ comparison: DiffJobComparison, source: String) {
        counts.count(comparison.kind)
        guard comparison.kind != .unchanged else { return }
        if json {
            writeLine(comparison.jsonValue(source: source))
        } else {
            let lines = [EventListDiff.reportLine(source)] + comparison.lines(prefix: "  ")
            output.write(lines.joined(separator: "\n") + "\n")
        }
    }

    /// Writes the counts line (the counts object with `--json`); when `.stopped`, the line starts
    /// `stopped: ` (the object has `"stopped": true`) since the inputs were not read to the end.
    func finish(_ ending: Ending) {
        if json {
            var object = counts.jsonValue
            if ending == .stopped, case .object(var members) = object {
                members["stopped"] = true
                object = .object(members)
            }
            writeLine(object)
        } else {
            output.write((ending == .stopped ? "stopped: " : "") + counts.line + "\n")
        }
    }

    private func writeLine(_ value: JSONValue) {
        var writer = JSONWriter()
        writer.write(value)
        writer.bytes.append(0x0A)
        output.write(String(decoding: writer.bytes, as: UTF8.self))
    }
}
