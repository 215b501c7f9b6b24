import Synchronization

/// An `OutputWriter` that keeps what is written in memory, for tests that check a job's output.
package final class OutputBuffer: OutputWriter {
    private let storage = Mutex("")

    package init() {}

    package func write(_ text: String) {
        storage.withLock { $0 += text }
    }

    /// Everything written so far, in order.
    package var text: String { storage.withLock { $0 } }

    /// `text` split into lines, without the final empty piece after a trailing newline.
    package var lines: [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}
