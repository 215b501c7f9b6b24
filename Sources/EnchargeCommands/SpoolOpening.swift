import EnchargeRules
import EnchargeSpool
import PostgresSpool

/// A `--spool` value and what opening it takes: the one place that names both spool backends.
/// A `postgres://` or `postgresql://` URL opens the PostgreSQL spool shared by many `serve` and
/// `deliver` processes; anything else is the path of a SQLite spool file, the embedded default.
///
/// The PostgreSQL password comes from `--spool-password-file`, else from a password in the URL,
/// else from `PGPASSWORD` in the command's environment. It is never shown: messages and the
/// listening line name the spool by `displayName`, the URL without its password.
package struct SpoolOpening: Sendable {
    /// Where the spool lives.
    package let location: SpoolLocation
    /// The password of a PostgreSQL spool from `--spool-password-file`; nil for a SQLite spool or
    /// when no file was given.
    let passwordFromFile: String?
    /// `PGPASSWORD` of the command's environment, used when neither the file nor the URL has one.
    let environmentPassword: String?

    /// Reads `--spool` and, for a PostgreSQL URL, the password file (`warn` receives the warning
    /// about a password file others can read). A password file for a SQLite path is a
    /// configuration error: it would be ignored.
    package init(
        spool: String, passwordFile: String?, environment: [String: String], warn: (String) -> Void
    ) throws(RuleLoadError) {
        location = SpoolLocation(parsing: spool)
        switch location {
        case .sqlite:
            if passwordFile != nil {
                throw RuleLoadError(
                    "--spool-password-file applies to a postgres:// spool, and --spool \(location.displayName) is a SQLite file; drop --spool-password-file"
                )
            }
            (passwordFromFile, environmentPassword) = (nil, nil)
        case .postgres:
            passwordFromFile = try passwordFile.map { path throws(RuleLoadError) in
                try SecretFile.read(path, flag: "--spool-password-file", warn: warn)
            }
            environmentPassword = environment["PGPASSWORD"]
        }
    }

    /// The file path, or the URL without its password.
    package var displayName: String { location.displayName }

    /// Opens the spool, creating or upgrading its schema; refuses a spool a newer version wrote.
    /// A process that will deliver a SQLite spool (`deliveringAs`, its subcommand: `serve` or
    /// `deliver`) first takes its owner lock, since one process at a time delivers such a file; a
    /// PostgreSQL spool shares its lanes instead.
    package func open(deliveringAs command: String? = nil) async throws(SpoolError) -> OpenedSpool {
        switch location {
        case .sqlite(let path):
            let owner = try command.map { command throws(SpoolError) in
                try SpoolOwnerLock(spoolPath: path, command: command)
            }
            return OpenedSpool(spool: try SQLiteSpool(path: path), ownerLock: owner, close: {})
        case .postgres(let url):
            let spool = try await PostgresSpool.open(
                url: url, password: passwordFromFile, environmentPassword: environmentPassword)
            return OpenedSpool(spool: spool, ownerLock: nil, close: { await spool.close() })
        }
    }
}
