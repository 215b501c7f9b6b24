import EnchargeSpool

/// Where a PostgreSQL spool lives, parsed from `--spool`:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?host=SOCKET_DIRECTORY]` (or `postgresql://`),
/// as libpq writes it. `[::1]` is an IPv6 host; a `host` parameter that starts with `/` names the
/// folder of the server's Unix socket (`.s.PGSQL.PORT`) instead of TCP; `port` and `password`
/// parameters are read too, and `sslmode` (`disable`, `allow`, `prefer` (the default, as for
/// libpq), `require`, `verify-ca`, `verify-full`) with `sslrootcert` (a PEM file of trusted CA
/// certificates; the system's otherwise). User, password and database may be percent-encoded. The
/// display name is `SpoolLocation`'s (the URL without its password).
package struct PostgresSpoolAddress: Sendable, Equatable {
    /// How to reach the server.
    package enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself (`DIRECTORY/.s.PGSQL.PORT`).
        case unixSocket(path: String)
    }

    /// Whether and how to use TLS (libpq's `sslmode`).
    package enum TLSMode: String, Sendable, Equatable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, without checking its certificate (`allow` too).
        case prefer
        /// TLS or no connection, without checking the server's certificate.
        case require
        /// TLS with a certificate signed by a trusted CA, for any host name.
        case verifyCA = "verify-ca"
        /// TLS with a certificate signed by a trusted CA for the URL's host.
        case verifyFull = "verify-full"
    }

    package var endpoint: Endpoint
    /// TLS for a TCP endpoint (a Unix socket never uses it).
    package var tls: TLSMode
    /// `sslrootcert`: the PEM file of CA certificates to trust, instead of the system's.
    package var rootCertificateFile: String?
    package var user: String
    package var database: String
    /// The password written in the URL, if any (PGPASSWORD or a password file is the better place).
    package var urlPassword: String?
    /// The URL without its password, for messages and the listening line.
    package var displayName: String

    /// Parses `url`; a malformed one is refused with a one-line error saying how to write it.
    package init(url: String) throws(SpoolError) {
        let form = "write it as postgres://USER@HOST:PORT/DATABASE"
        guard case .postgres = SpoolLocation(parsing: url) else {
            throw SpoolError(kind: .open, message: "is not a postgres:// URL; \(form)", path: url)
        }
        let parts = PostgresSpoolURL(url)
        let display = parts.displayName
        if let malformed = parts.malformed {
            throw SpoolError(kind: .open, message: malformed, path: display)
        }
        var parameters: [String: String] = [:]
        for pair in parts.query {
            let halves = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            parameters[Self.percentDecoded(halves[0])] = halves.count > 1 ? Self.percentDecoded(halves[1]) : ""
        }
        let authority = parts.hostAndPort
        let path = parts.path.drop { $0 == "/" }
        let user = Self.percentDecoded(parts.user)
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
        switch parameters["sslmode"] ?? "prefer" {
        case "allow": tls = .prefer
        case let mode:
            guard let known = TLSMode(rawValue: mode) else {
                throw SpoolError(
                    kind: .open,
                    message:
                        "has sslmode=\(mode); use disable, prefer, require, verify-ca or verify-full",
                    path: display)
            }
            tls = known
        }
        rootCertificateFile = parameters["sslrootcert"]
        self.user = user
        self.database = database
        urlPassword = parts.password.map(Self.percentDecoded) ?? parameters["password"]
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
