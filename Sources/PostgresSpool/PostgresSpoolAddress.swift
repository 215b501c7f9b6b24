import EnchargeSpool

/// Where a PostgreSQL spool lives, parsed from `--spool`:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?host=SOCKET_DIRECTORY]` (or `postgresql://`),
/// as libpq writes it. `[::1]` is an IPv6 host; a `host` parameter that starts with `/` names the
/// folder of the server's Unix socket (`.s.PGSQL.PORT`) instead of TCP; `port` and `password`
/// parameters are read too. User, password and database may be percent-encoded. The display name
/// is `SpoolLocation`'s (the URL without its password).
package struct PostgresSpoolAddress: Sendable, Equatable {
    /// How to reach the server.
    package enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself (`DIRECTORY/.s.PGSQL.PORT`).
        case unixSocket(path: String)
    }

    package var endpoint: Endpoint
    package var user: String
    package var database: String
    /// The password written in the URL, if any (PGPASSWORD or a password file is the better place).
    package var urlPassword: String?
    /// The URL without its password, for messages and the listening line.
    package var displayName: String

    /// Parses `url`; a malformed one is refused with a one-line error saying how to write it.
    package init(url: String) throws(SpoolError) {
        let form = "write it as postgres://USER@HOST:PORT/DATABASE"
        let display = SpoolLocation(parsing: url).displayName
        guard let schemeEnd = url.firstRange(of: "://"), case .postgres = SpoolLocation(parsing: url) else {
            throw SpoolError(kind: .open, message: "is not a postgres:// URL; \(form)", path: url)
        }
        var rest = Substring(url[schemeEnd.upperBound...])
        var parameters: [String: String] = [:]
        if let question = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                parameters[Self.percentDecoded(parts[0])] = parts.count > 1 ? Self.percentDecoded(parts[1]) : ""
            }
            rest = rest[..<question]
        }
        var userInfo: Substring = ""
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count).drop { $0 == "/" }
        let userParts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let user = Self.percentDecoded(userParts.first ?? "")
        let database = Self.percentDecoded(path)
        guard !user.isEmpty else {
            throw SpoolError(kind: .open, message: "names no user; \(form)", path: display)
        }
        guard !database.isEmpty, !database.contains("/") else {
            throw SpoolError(kind: .open, message: "names no database; \(form)", path: display)
        }
        var host = String(authority)
        var port = 5432
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let number = Int(after.dropFirst()), (1...65535).contains(number) else {
                    throw SpoolError(kind: .open, message: "has a port that is not a number; \(form)", path: display)
                }
                port = number
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let number = Int(host[host.index(after: colon)...]), (1...65535).contains(number) else {
                throw SpoolError(kind: .open, message: "has a port that is not a number; \(form)", path: display)
            }
            port = number
            host = String(host[..<colon])
        }
        if let socketHost = parameters["host"], socketHost.hasPrefix("/") {
            endpoint = .unixSocket(path: socketHost + "/.s.PGSQL.\(parameters["port"].flatMap { Int($0) } ?? port)")
        } else {
            let named = parameters["host"] ?? host
            guard !named.isEmpty else {
                throw SpoolError(kind: .open, message: "names no host; \(form)", path: display)
            }
            endpoint = .tcp(host: named, port: parameters["port"].flatMap { Int($0) } ?? port)
        }
        self.user = user
        self.database = database
        urlPassword = userParts.count > 1 ? Self.percentDecoded(userParts[1]) : parameters["password"]
        displayName = display
    }

    /// `%XX` sequences replaced by their bytes (read as UTF-8); anything else kept.
    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), let high = utf8.index(index, offsetBy: 1, limitedBy: utf8.endIndex),
                let low = utf8.index(index, offsetBy: 2, limitedBy: utf8.endIndex), low != utf8.endIndex,
                let value = UInt8(String(decoding: [utf8[high], utf8[low]], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                index = utf8.index(after: low)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
