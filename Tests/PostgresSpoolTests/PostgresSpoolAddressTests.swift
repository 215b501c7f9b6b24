import EnchargeSpool
import Testing

@testable import PostgresSpool

/// `--spool postgres://…` is parsed as libpq writes it, and its display never shows the password.
@Suite struct PostgresSpoolAddressTests {
    @Test func aURLGivesHostPortUserDatabaseAndADisplayWithoutThePassword() throws {
        let address = try PostgresSpoolAddress(url: "postgres://spool%40ops:s3cr%3At@db.internal:6543/events")
        #expect(address.endpoint == .tcp(host: "db.internal", port: 6543))
        #expect(address.user == "spool@ops")
        #expect(address.urlPassword == "s3cr:t")
        #expect(address.database == "events")
        #expect(address.displayName == "postgres://spool%40ops@db.internal:6543/events")
    }

    @Test func defaultsAndOtherForms() throws {
        let plain = try PostgresSpoolAddress(url: "postgresql://app@localhost/spool")
        #expect(plain.endpoint == .tcp(host: "localhost", port: 5432))
        #expect(plain.urlPassword == nil)
        #expect(plain.displayName == "postgresql://app@localhost/spool")
        let ipv6 = try PostgresSpoolAddress(url: "postgres://app@[::1]:5433/spool")
        #expect(ipv6.endpoint == .tcp(host: "::1", port: 5433))
        let socket = try PostgresSpoolAddress(url: "postgres://app@/spool?host=/run/postgresql&port=5433")
        #expect(socket.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5433"))
        #expect(socket.displayName == "postgres://app@/spool?host=/run/postgresql&port=5433")
    }

    @Test(arguments: [
        (
            "postgres://db.internal/events",
            "postgres://db.internal/events: names no user; write it as postgres://USER@HOST:PORT/DATABASE"
        ),
        (
            "postgres://app:pw@db.internal:5432",
            "postgres://app@db.internal:5432: names no database; write it as postgres://USER@HOST:PORT/DATABASE"
        ),
        (
            "postgres://app:pw@db.internal:x/events",
            "postgres://app@db.internal:x/events: has a port that is not a number; write it as postgres://USER@HOST:PORT/DATABASE"
        ),
        (
            "postgres://app@/events",
            "postgres://app@/events: names no host; write it as postgres://USER@HOST:PORT/DATABASE"
        ),
    ])
    func malformedURLsAreRefusedWithoutThePassword(url: String, message: String) {
        #expect(throws: SpoolError.self) { try PostgresSpoolAddress(url: url) }
        do {
            _ = try PostgresSpoolAddress(url: url)
        } catch {
            #expect(error.description == message)
            #expect(!error.description.contains("pw"))
        }
    }

    @Test(arguments: [
        "postgres://enc:p/w@127.0.0.1:5432/db", "postgres://enc:p#w@127.0.0.1:5432/db",
        "postgres://enc:p?w@127.0.0.1:5432/db",
    ])
    func aPasswordWithAnUnencodedDelimiterIsRefusedWithoutShowingIt(url: String) {
        do {
            let address = try PostgresSpoolAddress(url: url)
            Issue.record("parsed as \(address.endpoint) with display \(address.displayName)")
        } catch {
            #expect(
                error.description
                    == "postgres://…: has an unencoded / ? or # in its user or password; percent-encode them there (%2F %3F %23)"
            )
        }
    }

    @Test func anEncodedPasswordAndAPasswordParameterAreUsedButNeverShown() throws {
        let encoded = try PostgresSpoolAddress(url: "postgres://enc:p%2Fw%23x%3Fy@127.0.0.1:5432/db")
        #expect(encoded.urlPassword == "p/w#x?y")
        #expect(encoded.displayName == "postgres://enc@127.0.0.1:5432/db")
        let parameter = try PostgresSpoolAddress(url: "postgres://enc@127.0.0.1:5432/db?password=p%40w&sslmode=disable")
        #expect(parameter.urlPassword == "p@w")
        #expect(parameter.tls == .disable)
        #expect(parameter.displayName == "postgres://enc@127.0.0.1:5432/db?sslmode=disable")
        let at = try PostgresSpoolAddress(url: "postgres://enc:p@w@127.0.0.1:5432/db")
        #expect(at.urlPassword == "p@w")
        #expect(at.endpoint == .tcp(host: "127.0.0.1", port: 5432))
        #expect(at.displayName == "postgres://enc@127.0.0.1:5432/db")
    }
}
