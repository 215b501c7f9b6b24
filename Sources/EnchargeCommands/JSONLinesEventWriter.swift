import EnchargeKit
import JSONKit
import SystemKit

/// `--dry-run`: each validated event as one JSON line on stdout, buffered.
package final class JSONLinesEventWriter: EventSink {
    let output: any OutputWriter
    var writer = JSONWriter(capacity: 1 << 17)

    package init(writer output: any OutputWriter) { self.output = output }

    deinit { flush() }

    package func emit(_ events: [Event], source: String) {
        for event in events {
            event.write(to: &writer)
            writer.bytes.append(0x0A)
        }
        if writer.bytes.count >= 1 << 16 { flush() }
    }

    package func flush() {
        // Events are built from Swift strings, so their JSON is valid UTF-8 and decodes unchanged.
        if !writer.bytes.isEmpty { output.write(String(decoding: writer.bytes, as: UTF8.self)) }
        writer.bytes.removeAll(keepingCapacity: true)
    }
}
