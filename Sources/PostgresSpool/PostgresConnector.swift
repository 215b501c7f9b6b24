import EnchargeSpool
import Logging
import NIOSSL
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
    /// TLS as the URL's `sslmode` asks, for dedicated connections and for the pool.
    private let connectionTLS: PostgresConnection.Configuration.TLS
    private let clientTLS: PostgresClient.Configuration.TLS
    /// The name the connections show in `pg_stat_activity`.
    private static let applicationName = "encharge-lua"
    /// Settings every connection asks for at startup, so a dead or frozen client never holds locks
    /// for long: the server ends a session idle inside a transaction for 15 s (a replica that died
    /// holding the order lock between statements), probes an idle connection after 10 s of silence
    /// (every 5 s, 3 times), and drops a connection whose sent data stays unacknowledged for 30 s
    /// (a host that powered off). PostgreSQL ignores the TCP ones on a Unix socket.
    static let startupParameters: [(String, String)] = [
        ("application_name", applicationName),
        ("idle_in_transaction_session_timeout", "15000"),
        ("tcp_keepalives_idle", "10"),
        ("tcp_keepalives_interval", "5"),
        ("tcp_keepalives_count", "3"),
        ("tcp_user_timeout", "30000"),
    ]
    private static let nextID = Atomic(0)

    /// Sets up TLS as `address` asks; a CA file that is missing or cannot be read is refused here.
    init(address: PostgresSpoolAddress, password: String?) throws(SpoolError) {
        self.address = address
        self.password = password
        guard address.tls != .disable else {
            connectionTLS = .disable
            clientTLS = .disable
            return
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch address.tls {
        case .disable, .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        if let file = address.rootCertificateFile { configuration.trustRoots = .file(file) }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            let message: String
            switch (error as? NIOSSLError, address.rootCertificateFile) {
            case (.noSuchFilesystemObject?, let file?):
                message = "the URL's sslrootcert file \(file) does not exist; fix its path"
            case (_, let file?):
                message =
                    "cannot read the URL's sslrootcert file \(file) as PEM certificates; pass the CA's certificate"
            case (_, nil):
                message = "cannot set up TLS (\(error)); drop sslmode for a server without TLS"
            }
            throw SpoolError(kind: .open, message: message, path: address.displayName)
        }
        if address.tls == .prefer {
            connectionTLS = .prefer(context)
            clientTLS = .prefer(configuration)
        } else {
            connectionTLS = .require(context)
            clientTLS = .require(configuration)
        }
    }

    var spool: String { address.displayName }

    /// A new connection of its own.
    func connect() async throws(SpoolError) -> PostgresConnection {
        var configuration: PostgresConnection.Configuration
        switch address.endpoint {
        case .tcp(let host, let port):
            configuration = .init(
                host: host, port: port, username: address.user, password: password, database: address.database,
                tls: connectionTLS)
        case .unixSocket(let path):
            configuration = .init(
                unixSocketPath: path, username: address.user, password: password, database: address.database)
        }
        configuration.options.additionalStartupParameters = Self.startupParameters
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
                tls: clientTLS)
        case .unixSocket(let path):
            configuration = .init(
                unixSocketPath: path, username: address.user, password: password, database: address.database)
        }
        configuration.options.additionalStartupParameters = Self.startupParameters
        configuration.options.maximumConnections = maximumConnections
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }
}
