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
    /// parameter): safe for messages, logs and the listening line.
    package var displayName: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let url): return Self.redacted(url)
        }
    }

    private static func redacted(_ url: String) -> String {
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return url }
        let authorityStart = url.index(colon, offsetBy: 3)
        let scheme = url[..<authorityStart]
        var rest = url[authorityStart...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        rest = rest[authorityEnd...]
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            let user = userInfo.firstIndex(of: ":").map { userInfo[..<$0] } ?? userInfo
            authority = user + authority[at...]
        }
        guard let queryStart = rest.firstIndex(of: "?") else { return String(scheme + authority + rest) }
        let path = rest[..<queryStart]
        let fragmentStart = rest.firstIndex(of: "#") ?? rest.endIndex
        let parameters = rest[rest.index(after: queryStart)..<fragmentStart].split(separator: "&")
            .filter { !$0.lowercased().hasPrefix("password=") }
        let query = parameters.isEmpty ? "" : "?" + parameters.joined(separator: "&")
        return String(scheme + authority + path) + query + rest[fragmentStart...]
    }
}
