import EnchargeSpool
import Foundation
import PostgresSpool
import TestSupport
import Testing

/// Opening a PostgreSQL spool: the schema is created and versioned once, also when replicas open
/// together; a newer schema, `synchronous_commit = off`, a foreign schema and a wrong password are
/// refused with one line that names the URL without the password, and nothing is touched.
@Suite struct PostgresSpoolSchemaTests {
    @Test func theSchemaIsCreatedOnceEvenWhenReplicasOpenTogether() async throws {
        let database = try SpoolDatabase()
        let spools = try await withThrowingTaskGroup(of: PostgresSpool.self) { group in
            for _ in 0..<4 { group.addTask { try await database.open() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(try database.sql("SELECT version FROM encharge_spool.schema_version") == "1")
        #expect(try database.sql("SELECT count(*) FROM encharge_spool.schema_version") == "1")
        _ = try await spools[0].accept(
            requestID: "r1", dedupKey: nil, events: [Events.track("ann", seq: 1)], source: "POST /", dedupWindow: 60)
        for spool in spools { await spool.close() }
        let reopened = try await database.open()
        #expect(try await reopened.stats().pending == 1)
        #expect(try database.sql("SELECT version FROM encharge_spool.schema_version") == "1")
        await reopened.close()
    }

    @Test func aSpoolOfANewerSchemaIsRefusedAndLeftUntouched() async throws {
        let database = try SpoolDatabase()
        let spool = try await database.open()
        _ = try await spool.accept(
            requestID: "r1", dedupKey: "k1", events: [Events.track("ann", seq: 1)], source: "POST /", dedupWindow: 60)
        await spool.close()
        try database.sql("UPDATE encharge_spool.schema_version SET version = 7")
        let before = try Self.contents(database)
        let error = try #require(await database.refusal())
        #expect(error.kind == .open)
        #expect(
            error.description
                == "\(database.url): was written by a newer encharge-lua (schema 7, this one knows 1); upgrade encharge-lua to open it"
        )
        #expect(try Self.contents(database) == before)
        #expect(try database.sql("SELECT version FROM encharge_spool.schema_version") == "7")
    }

    @Test func synchronousCommitOffIsRefusedBeforeAnythingIsCreated() async throws {
        let database = try SpoolDatabase()
        try database.sql("ALTER DATABASE \(database.name) SET synchronous_commit = off")
        let error = try #require(await database.refusal())
        #expect(
            error.description
                == "\(database.url): has synchronous_commit off, so an answered request could be lost in a crash; run ALTER DATABASE \(database.name) SET synchronous_commit = on (or fix it in postgresql.conf or the role's settings), then start again"
        )
        #expect(try database.sql("SELECT to_regnamespace('encharge_spool') IS NULL") == "t")
        try database.sql("ALTER DATABASE \(database.name) SET synchronous_commit = on")
        #expect(await database.refusal() == nil)
    }

    @Test func aForeignSchemaOfTheSameNameIsRefused() async throws {
        let database = try SpoolDatabase()
        try database.sql("CREATE SCHEMA encharge_spool; CREATE TABLE encharge_spool.orders (id int)")
        let error = try #require(await database.refusal())
        #expect(
            error.description
                == "\(database.url): has a schema encharge_spool that is not an encharge-lua spool; drop it or use another database"
        )
        #expect(try database.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'encharge_spool'") == "1")
    }

    @Test func aWrongPasswordIsReportedWithoutAnyPassword() async throws {
        let database = try SpoolDatabase()
        let wrong = try #require(await database.refusal(password: "not-the-password"))
        #expect(
            wrong.description
                == "\(database.url): cannot open the spool: PostgreSQL refused the login (password authentication failed for user \"encharge\"); set PGPASSWORD or --spool-password-file to the role's password"
        )
        let withPasswordInURL = database.url.replacingOccurrences(of: "encharge@", with: "encharge:hunter2@")
        let inURL = try #require(await database.refusal(url: withPasswordInURL, password: .some(nil)))
        #expect(inURL.description == wrong.description, "the URL's password is used, and never shown")
        #expect(!inURL.description.contains("hunter2"))
        // libpq's order: the password file's, else the URL's, else PGPASSWORD's.
        let cluster = database.cluster
        await #expect(throws: SpoolError.self) {
            try await PostgresSpool.open(
                url: withPasswordInURL, password: nil, environmentPassword: cluster.password)
        }
        let fromFile = try await PostgresSpool.open(
            url: withPasswordInURL, password: cluster.password, environmentPassword: "not-the-password")
        await fromFile.close()
        let fromEnvironment = try await PostgresSpool.open(
            url: database.url, password: nil, environmentPassword: cluster.password)
        await fromEnvironment.close()
    }

    @Test func anUnreachableServerIsReportedWithWhatToCheck() async throws {
        let database = try SpoolDatabase()
        let url = "postgres://encharge@127.0.0.1:1/\(database.name)"
        let error = try #require(await database.refusal(url: url))
        #expect(
            error.description
                == "\(url): cannot open the spool: nothing accepts connections at the URL's host and port (connection refused); start PostgreSQL or fix the URL"
        )
        let socket = "postgres://encharge@/\(database.name)?host=/nonexistent"
        let noSocket = try #require(await database.refusal(url: socket))
        #expect(
            noSocket.description
                == "\(socket): cannot open the spool: nothing accepts connections at the URL's host and port (connection refused); start PostgreSQL or fix the URL"
        )
    }

    /// Every row of the spool's tables and the schema's table list, as psql prints them.
    private static func contents(_ database: SpoolDatabase) throws -> String {
        try database.sql(
            """
            SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'encharge_spool';
            SELECT id, request_id, state, encode(wire, 'escape') FROM encharge_spool.event ORDER BY id;
            SELECT key FROM encharge_spool.dedup ORDER BY key;
            SELECT pending, delivered, dead FROM encharge_spool.counts
            """)
    }
}
