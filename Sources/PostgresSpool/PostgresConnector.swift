import EnchargeSpool
import Logging
import PostgresNIO
import Synchronization

/// Opens connections to the spool's database: dedicated ones (the writer's, the delivery
/// session's, which holds the lane locks) and the configuration of the pool the other queries use.
/// Holds the password; nothing it throws or logs contains it.
struct PostgresConnector: Sendable {
    let address: PostgresSpoolAddress
    let password: String?
    /// PostgresNIO's log: dropped (the spool reports failures through `SpoolError`).
    let logger = Logger(label: "encharge-spool-postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    /// The name the connections show in `pg_stat_activity`.
    private static let applicationName = "encharge-lua"
    private static let nextID = Atomic(0)

    var spool: String { address.displayName }

    /// A new connection of its own.
    func connect() async throws(SpoolError) -> PostgresConnection {
        var configuration: PostgresConnection.Configuration
        switch address.endpoint {
        case .tcp(let host, let port):
            configuration = .init(
                host: host, port: port, username: address.user, password: password, database: address.database,
                tls: .disable)
        case .unixSocket(let path):
            configuration = .init(
                unixSocketPath: path, username: address.user, password: password, database: address.database)
        }
        configuration.options.additionalStartupParameters = [("application_name", Self.applicationName)]
        let id = Self.nextID.add(1, ordering: .relaxed).newValue
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
        } catch {
            throw .postgres(error, kind: .open, spool: spool, doing: "cannot open the spool")
        }
    }

    /// A pool of at most `maximumConnections`, for the short queries any task may run at once.
    func makeClient(maximumConnections: Int) -> PostgresClient {
        var configuration: PostgresClient.Configuration
        switch address.endpoint {
        case .tcp(let host, let port):
            configuration = .init(
                host: host, port: port, username: address.user, password: password, database: address.database,
                tls: .disable)
        case .unixSocket(let path):
            configuration = .init(
                unixSocketPath: path, username: address.user, password: password, database: address.database)
        }
        configuration.options.additionalStartupParameters = [("application_name", Self.applicationName)]
        configuration.options.maximumConnections = maximumConnections
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }
}
