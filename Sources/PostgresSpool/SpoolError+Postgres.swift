import EnchargeSpool
import PostgresNIO

extension SpoolError {
    /// Words whatever PostgresNIO or the server threw as one sentence that says what to do. The
    /// password never appears: PostgresNIO's errors carry no connection settings, and `spool` is
    /// the URL without it.
    static func postgres(_ error: any Error, kind: Kind, spool: String, doing what: String) -> SpoolError {
        if let error = error as? SpoolError { return error }
        if let error = error as? PostgresTransactionError {
            let inner = error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError
            return inner.map { postgres($0, kind: kind, spool: spool, doing: what) }
                ?? SpoolError(kind: kind, message: "\(what): the transaction failed", path: spool)
        }
        guard let error = error as? PSQLError else {
            return SpoolError(kind: kind, message: "\(what): \(error)", path: spool)
        }
        let retry = "check that PostgreSQL runs and the URL's host and port are right"
        switch error.code {
        case .connectionError:
            let cause = error.underlying.map { "\($0)" } ?? "no connection"
            return SpoolError(
                kind: kind, message: "\(what): cannot connect to PostgreSQL (\(cause)); \(retry)", path: spool)
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
                kind: kind, message: "\(what): the server does not offer TLS; drop sslmode from the URL", path: spool)
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
}
