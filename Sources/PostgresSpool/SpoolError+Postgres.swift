import EnchargeSpool
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

extension SpoolError {
    /// Words whatever PostgresNIO or the server threw as one sentence that says what to do. The
    /// password never appears: PostgresNIO's errors carry no connection settings, and `spool` is
    /// the URL without it.
    static func postgres(_ error: any Error, kind: Kind, spool: String, doing what: String) -> SpoolError {
        if let error = error as? SpoolError { return error }
        if let error = error as? PostgresTransaction.NotCommitted {
            return postgres(error.underlying, kind: kind, spool: spool, doing: what)
        }
        guard let error = error as? PSQLError else {
            return SpoolError(kind: kind, message: "\(what): \(error)", path: spool)
        }
        let retry = "check that PostgreSQL runs and the URL's host and port are right"
        switch error.code {
        case .connectionError:
            return SpoolError(kind: kind, message: "\(what): \(connectionFailure(error.underlying))", path: spool)
        case .serverClosedConnection, .uncleanShutdown:
            return SpoolError(
                kind: kind, message: "\(what): PostgreSQL closed the connection; \(retry), then try again", path: spool)
        case .clientClosedConnection, .poolClosed:
            return SpoolError(kind: .closed, message: "\(what): the spool is closed", path: spool)
        case .authMechanismRequiresPassword:
            return SpoolError(
                kind: kind,
                message: "\(what): PostgreSQL asks for a password; set PGPASSWORD or pass --spool-password-file",
                path: spool)
        case .sslUnsupported:
            return SpoolError(
                kind: kind,
                message:
                    "\(what): the server does not offer TLS; turn ssl on in its postgresql.conf or use sslmode=disable",
                path: spool)
        case .server:
            let message = error.serverInfo?[.message] ?? "unknown server error"
            let state = error.serverInfo?[.sqlState] ?? ""
            switch state {
            case "28P01", "28000":
                return SpoolError(
                    kind: kind,
                    message:
                        "\(what): PostgreSQL refused the login (\(message)); set PGPASSWORD or --spool-password-file to the role's password",
                    path: spool)
            case "3D000":
                return SpoolError(
                    kind: kind, message: "\(what): \(message); create it (createdb) or fix the URL's database name",
                    path: spool)
            case "42501":
                return SpoolError(
                    kind: kind,
                    message: "\(what): \(message); grant the spool's role CREATE on the database and its schema",
                    path: spool)
            default:
                return SpoolError(kind: kind, message: "\(what): \(message) (SQLSTATE \(state))", path: spool)
            }
        default:
            return SpoolError(kind: kind, message: "\(what): \(error.code)", path: spool)
        }
    }

    /// Why no connection came, as one plain sentence with what to do: nothing listening, a host
    /// that is not found, no answer in time, a failed TLS handshake; other causes as NIO words them.
    private static func connectionFailure(_ cause: (any Error)?) -> String {
        var causes: [any Error] = cause.map { [$0] } ?? []
        if let error = cause as? NIOConnectionError {
            if error.dnsAError != nil || error.dnsAAAAError != nil {
                return "the URL's host \(error.host) is not found; fix the host name in the URL"
            }
            causes = error.connectionErrors.map(\.error)
        }
        if causes.contains(where: { ($0 as? IOError).map { [ECONNREFUSED, ENOENT].contains($0.errnoCode) } ?? false }) {
            return
                "nothing accepts connections at the URL's host and port (connection refused); start PostgreSQL or fix the URL"
        }
        if causes.contains(where: { if case .connectTimeout = $0 as? ChannelError { true } else { false } }) {
            return
                "PostgreSQL did not answer at the URL's host and port within 10 s; check that it runs and that no firewall drops the port"
        }
        if causes.contains(where: { $0 is NIOSSLError || $0 is BoringSSLError }) {
            return
                "the TLS handshake with PostgreSQL failed (its certificate is not signed by a CA the URL trusts, or names another host); pass its CA with sslrootcert=FILE, or use sslmode=require"
        }
        let detail = causes.first.map { "\($0)" } ?? "no connection"
        return
            "cannot connect to PostgreSQL: \(detail); check that PostgreSQL runs and the URL's host and port are right"
    }
}
