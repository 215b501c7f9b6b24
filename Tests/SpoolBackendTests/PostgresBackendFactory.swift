import EnchargeSpool
import PostgresSpool
import TestSupport
import Testing

/// `PostgresSpool`: a fresh database on this test process's shared PostgreSQL cluster.
struct PostgresBackendFactory: SpoolBackendFactory {
    var testDescription: String { "PostgreSQL" }

    func makeLocation() async throws -> String {
        let cluster = try PostgresCluster.shared()
        return cluster.url(database: try cluster.createDatabase())
    }

    func open(_ location: String) async throws -> any EventSpool {
        try await PostgresSpool.open(url: location, password: try PostgresCluster.shared().password)
    }

    func close(_ spool: any EventSpool) async { await (spool as! PostgresSpool).close() }

    func remove(_ location: String) async {
        _ = try? PostgresCluster.shared().sql("DROP DATABASE \(Self.database(location)) WITH (FORCE)", in: "postgres")
    }

    func transactionCount(_ spool: any EventSpool) -> Int { (spool as! PostgresSpool).transactionCount }

    /// A schema version this one does not know, as a newer version records it.
    func markWrittenByNewerVersion(_ location: String) async throws {
        try sql("UPDATE encharge_spool.schema_version SET version = version + 98", location)
    }

    /// The schema's objects and columns, then every row of every table and the request counter.
    func fingerprint(_ location: String) async throws -> [String] {
        let objects = try sql(
            """
            SELECT c.relname || ' ' || c.relkind::text || ' ' || coalesce(string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum), '')
            FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
            LEFT JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = 'encharge_spool' GROUP BY c.relname, c.relkind ORDER BY c.relname
            """, location)
        var lines = objects.split(separator: "\n").map(String.init)
        for table in ["schema_version", "event", "dedup", "failed_request", "counts", "delivery_process"] {
            lines += try sql("SELECT '\(table) ' || t::text FROM encharge_spool.\(table) AS t ORDER BY 1", location)
                .split(separator: "\n").map(String.init)
        }
        lines.append(try sql("SELECT 'request_number ' || last_value FROM encharge_spool.request_number", location))
        return lines
    }

    private func sql(_ statements: String, _ location: String) throws -> String {
        try PostgresCluster.shared().sql(statements, in: Self.database(location))
    }

    /// The database name: the URL's last path component.
    private static func database(_ location: String) -> String {
        String(location.split(separator: "/").last ?? "")
    }
}
