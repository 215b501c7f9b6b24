/// A `postgres://` (or `postgresql://`) `--spool` URL split into its parts, the one parser both
/// `SpoolLocation` (for the display name) and the PostgreSQL backend (for connecting) use, so what
/// is shown and what is used never differ. As RFC 3986 reads it: the authority ends at the first
/// `/`, `?` or `#`; the user-info is what comes before its last `@` (so an `@` in the password may
/// stay unencoded). A `/ ? #` inside the user or the password must be percent-encoded (`%2F %3F
/// %23`): a URL with an `@` after the authority is `malformed` (it cannot tell where the password
/// ends), and its display name then hides everything after the scheme.
package struct PostgresSpoolURL: Sendable, Equatable {
    /// `postgres` or `postgresql`, as written.
    package var scheme: String
    /// The user as written (percent-encoded), empty when none.
    package var user: Substring
    /// The password as written (percent-encoded), nil when the URL has none.
    package var password: Substring?
    /// `HOST[:PORT]` (`[V6]:PORT` too), as written.
    package var hostAndPort: Substring
    /// The path after the authority, its leading `/` included, as written.
    package var path: Substring
    /// The query's `name=value` pairs, as written.
    package var query: [Substring]
    /// `#…`, as written, empty when none.
    package var fragment: Substring
    /// Why the URL cannot be read safely, nil when it can.
    package var malformed: String?

    /// Splits `url`, which starts with `postgres://` or `postgresql://` (any case).
    package init(_ url: String) {
        let schemeEnd = url.firstRange(of: "://")
        scheme = String(url[..<(schemeEnd?.lowerBound ?? url.startIndex)])
        let rest = url[(schemeEnd?.upperBound ?? url.startIndex)...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let tail = rest[authorityEnd...]
        let fragmentStart = tail.firstIndex(of: "#") ?? tail.endIndex
        let beforeFragment = tail[..<fragmentStart]
        let queryStart = beforeFragment.firstIndex(of: "?") ?? beforeFragment.endIndex
        path = beforeFragment[..<queryStart]
        query =
            queryStart == beforeFragment.endIndex
            ? [] : beforeFragment[beforeFragment.index(after: queryStart)...].split(separator: "&")
        fragment = tail[fragmentStart...]
        malformed =
            tail.contains("@")
            ? "has an unencoded / ? or # in its user or password; percent-encode them there (%2F %3F %23)" : nil
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                user = userInfo[..<colon]
                password = userInfo[userInfo.index(after: colon)...]
            } else {
                user = userInfo
            }
            hostAndPort = authority[authority.index(after: at)...]
        } else {
            user = ""
            hostAndPort = authority
        }
    }

    /// The URL without its password (neither `user:password@` nor a `password=` query parameter),
    /// built from the parsed parts; only the scheme when the URL is malformed.
    package var displayName: String {
        guard malformed == nil else { return scheme + "://…" }
        let kept = query.filter { !$0.lowercased().hasPrefix("password=") }
        return scheme + "://" + (user.isEmpty ? "" : user + "@") + hostAndPort + path
            + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&")) + fragment
    }
}
