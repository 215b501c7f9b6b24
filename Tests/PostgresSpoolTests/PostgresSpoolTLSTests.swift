import EnchargeSpool
import PostgresSpool
import TestSupport
import Testing

/// The URL's `sslmode` as libpq reads it: TLS when offered by default, required, or verified
/// against a CA file; a server without TLS is refused where TLS is required.
@Suite struct PostgresSpoolTLSTests {
    @Test func eachSSLModeConnectsAsItSaysToAClusterWithTLS() async throws {
        try await PostgresCluster.with(tls: true) { cluster in
            let database = try cluster.createDatabase()
            let certificate = try #require(cluster.certificateFile)
            let base = "postgres://encharge@127.0.0.1:\(cluster.port)/\(database)"
            for (query, encrypted) in [
                ("", true), ("?sslmode=disable", false), ("?sslmode=require", true),
                ("?sslmode=verify-ca&sslrootcert=\(certificate)", true),
            ] {
                let spool = try await PostgresSpool.open(url: base + query, password: cluster.password)
                #expect(
                    try await spool.accept(
                        requestID: "r\(query.count)", dedupKey: nil, events: [Events.track("ann", seq: 1)],
                        source: "POST /", dedupWindow: 60) == .accepted)
                let ssl = try cluster.sql(
                    """
                    SELECT bool_and(s.ssl) FROM pg_stat_ssl AS s JOIN pg_stat_activity AS a ON a.pid = s.pid
                    WHERE a.application_name = 'encharge-lua' AND a.datname = '\(database)'
                    """, in: "postgres")
                #expect(ssl == (encrypted ? "t" : "f"), "\(query)")
                await spool.close()
            }
            let verified = try await PostgresSpool.open(
                url:
                    "postgres://encharge@localhost:\(cluster.port)/\(database)?sslmode=verify-full&sslrootcert=\(certificate)",
                password: cluster.password)
            #expect(try await verified.stats().pending == 4)
            await verified.close()
            // The self-signed certificate is not among the system's trusted CAs.
            do {
                let spool = try await PostgresSpool.open(url: base + "?sslmode=verify-ca", password: cluster.password)
                await spool.close()
                Issue.record("a certificate no trusted CA signed was accepted")
            } catch let error as SpoolError {
                #expect(
                    error.description
                        == "\(base)?sslmode=verify-ca: cannot open the spool: the TLS handshake with PostgreSQL failed (its certificate is not signed by a CA the URL trusts, or names another host); pass its CA with sslrootcert=FILE, or use sslmode=require"
                )
            }
        }
    }

    @Test func aServerWithoutTLSIsRefusedWhenTLSIsRequired() async throws {
        let database = try SpoolDatabase()
        let url = database.url + "?sslmode=require"
        let error = try #require(await database.refusal(url: url))
        #expect(
            error.description
                == "\(url): cannot open the spool: the server does not offer TLS; turn ssl on in its postgresql.conf or use sslmode=disable"
        )
        let unknown = try #require(await database.refusal(url: database.url + "?sslmode=sometimes"))
        #expect(
            unknown.description
                == "\(database.url)?sslmode=sometimes: has sslmode=sometimes; use disable, prefer, require, verify-ca or verify-full"
        )
        let missingFile = try #require(
            await database.refusal(url: database.url + "?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"))
        #expect(
            missingFile.description
                == "\(database.url)?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem: the URL's sslrootcert file /nonexistent/ca.pem does not exist; fix its path"
        )
    }
}
