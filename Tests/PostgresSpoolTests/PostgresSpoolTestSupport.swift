import EnchargeKit
import EnchargeSpool
import JSONKit
import PostgresSpool
import SystemKit
import TestSupport

/// A fresh database on this test process's shared PostgreSQL cluster, and spools opened on it.
struct SpoolDatabase {
    let cluster: PostgresCluster
    let name: String

    /// Creates the database (the cluster starts on first use).
    init() throws {
        cluster = try PostgresCluster.shared()
        name = try cluster.createDatabase()
    }

    /// `postgres://encharge@127.0.0.1:PORT/NAME`.
    var url: String { cluster.url(database: name) }

    /// A spool on the database, as one process (replica or worker) opens it.
    func open(lease: Double = 5, clock: @escaping @Sendable () -> Double = SystemClock.wallSeconds) async throws
        -> PostgresSpool
    {
        try await PostgresSpool.open(url: url, password: cluster.password, lease: lease, clock: clock)
    }

    /// The error opening a spool at `url` (the database's by default) fails with; nil, after
    /// closing it, when it opens.
    func refusal(url: String? = nil, password: String?? = .none) async -> SpoolError? {
        do {
            let spool = try await PostgresSpool.open(url: url ?? self.url, password: password ?? cluster.password)
            await spool.close()
            return nil
        } catch {
            return error
        }
    }

    /// Runs `statements` through psql; the rows it printed.
    @discardableResult
    func sql(_ statements: String) throws -> String { try cluster.sql(statements, in: name) }
}

/// Events that name their person and a sequence number.
enum Events {
    /// A track event for `person` (its userId) carrying `seq`.
    static func track(_ person: String, seq: Int) -> Event {
        var properties = JSONObject()
        properties["seq"] = .integer(Int64(seq))
        return try! Event.track(
            name: "Paid invoice", user: ["userId": .string(person), "email": .string("\(person)@example.com")],
            properties: .object(properties), sourceIp: nil)
    }
}
