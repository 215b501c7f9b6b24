import GRDB

/// A failure to open, read or write the spool. Its description is one sentence for a person.
package struct SpoolError: Error, Sendable, Hashable, CustomStringConvertible {
    package enum Kind: String, Sendable, Hashable {
        /// The database could not be opened, created or migrated.
        case open
        /// A read or write failed (disk full, I/O error, locked by another process for too long).
        case storage
        /// The spool is shutting down and takes no more work.
        case closed
    }

    package var kind: Kind
    package var message: String
    /// The database file.
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
