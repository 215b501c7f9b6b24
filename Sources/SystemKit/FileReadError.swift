/// A file that `FileReader` cannot read: missing, a directory, unreadable or too large. The
/// description is one sentence naming the path and what to do, with no `error:` prefix (whoever
/// reports it adds that).
package struct FileReadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why the file could not be read.
    package enum Kind: Sendable, Hashable {
        /// `open(2)` failed (missing file, no permission), with the system's reason.
        case cannotOpen(reason: String)
        /// The path names a directory.
        case directory
        /// `read(2)` failed midway, with the system's reason.
        case readFailed(reason: String)
        /// The file holds more than `limit` bytes.
        case tooLarge(limit: Int)
    }

    package var path: String
    package var kind: Kind

    package init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    package var description: String {
        switch kind {
        case .cannotOpen(let reason): "cannot open \(path): \(reason); check the input path"
        case .directory: "cannot read \(path): it is a directory; give a file"
        case .readFailed(let reason): "read error: \(reason)"
        case .tooLarge(let limit): "\(path) is larger than \(limit >> 20) MiB"
        }
    }
}
