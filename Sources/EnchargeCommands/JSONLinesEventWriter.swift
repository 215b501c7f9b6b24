import EnchargeKit
import JSONKit
import SystemKit

/// `--dry-run`: each validated event as one JSON line on stdout, buffered.
package final class JSONLinesEventWriter: EventSink {
    let output: any OutputWriter
    /// Touched for every record; `emit` and `flush` run on the mapping thread one at a time and
    /// never inside each other, so without the runtime's exclusivity checks.
    @exclusivity(unchecked) var writer = JSONWriter(capacity: 1 << 17)

    package init(writer output: any OutputWriter) { self.output = output }

    deinit { flush() }

    package func emit(_ events: [Event], source: String) {
        Self.appendLines(of: events, to: &writer)
        flushIfFull()
    }

    /// Writes lines `appendLines` made elsewhere (a `--jobs` worker): the bytes `emit` would have
    /// written for their events; a block that would fill the buffer goes out without being copied.
    func emit(renderedLines lines: UnsafeRawBufferPointer) {
        guard writer.bytes.count + lines.count >= Self.flushBytes else {
            writer.bytes.append(contentsOf: lines)
            return
        }
        flush()
        output.write(utf8: lines)
    }

    /// Appends one JSON line per event to `writer`: what `emit` writes for them.
    static func appendLines(of events: [Event], to writer: inout JSONWriter) {
        // By index: each event is read in place, not copied out (a retain and release per event).
        for index in events.indices {
            events[index].write(to: &writer)
            writer.bytes.append(0x0A)
        }
    }

    /// Buffered bytes after which the buffer is written out.
    private static let flushBytes = 1 << 16

    private func flushIfFull() {
        if writer.bytes.count >= Self.flushBytes { flush() }
    }

    package func flush() {
        // Event bodies are valid UTF-8 (every string in them was validated), so they go out as is.
        if !writer.bytes.isEmpty { writer.bytes.withUnsafeBytes { output.write(utf8: $0) } }
        writer.bytes.removeAll(keepingCapacity: true)
    }
}
