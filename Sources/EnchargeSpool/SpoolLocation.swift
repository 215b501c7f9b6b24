/// Where a spool lives, from the `--spool` string: a `postgres://` or `postgresql://` URL names a
/// PostgreSQL spool, anything else the path of a SQLite spool file.
package enum SpoolLocation: Sendable, Hashable {
    /// A SQLite spool file.
    case sqlite(path: String)
    /// A PostgreSQL spool: the URL as given (it may carry a password; show `displayName` instead).
    case postgres(url: String)

    /// Reads a `--spool` value; the scheme is matched without regard to case.
    package init(parsing text: String) {
        let lowered = text.prefix(14).lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            self = .postgres(url: text)
        } else {
            self = .sqlite(path: text)
        }
    }

    /// The path, or the URL without a password (neither `user:password@` nor a `password=` query
    /// parameter; see `PostgresSpoolURL`): safe for messages, logs and the listening line.
    package var displayName: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let url): return PostgresSpoolURL(url).displayName
        }
    }
}
