import GRDB

/// A failure to open, read or write a spool (of any backend). Its description is one sentence for a
/// person, starting with the spool's display name.
package struct SpoolError: Error, Sendable, Hashable, CustomStringConvertible {
    package enum Kind: String, Sendable, Hashable {
        /// The spool could not be opened, created or migrated, or was written by a newer version.
        case open
        /// A read or write failed (disk full, I/O error, locked by another process for too long).
        case storage
        /// The spool is shutting down and takes no more work.
        case closed
    }

    package var kind: Kind
    package var message: String
    /// The spool's `displayName`: its file path, or its URL without the password.
    package var path: String

    package init(kind: Kind, message: String, path: String) {
        self.kind = kind
        self.message = message
        self.path = path
    }

    package var description: String { "\(path): \(message)" }

    /// Wraps whatever GRDB or SQLite threw.
    static func wrapping(_ error: any Error, kind: Kind, path: String, doing what: String) -> SpoolError {
        if let error = error as? SpoolError { return error }
        if let error = error as? DatabaseError {
            let detail = error.message ?? "SQLite error \(error.resultCode.rawValue)"
            return SpoolError(kind: kind, message: "\(what): \(detail)", path: path)
        }
        return SpoolError(kind: kind, message: "\(what): \(error)", path: path)
    }
}
