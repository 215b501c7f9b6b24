import ArgumentParser
import EnchargeCommands
import EnchargeRules

/// `--spool-password-file`, shared by every command that takes `--spool`.
struct SpoolPasswordFlags: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Read the password of a postgres:// spool from this file; it wins over a password in the URL, which wins over $PGPASSWORD (never shown).",
            valueName: "path"))
    var spoolPasswordFile: String?

    /// The spool `spool` names, with its password read from the file or `context`'s `PGPASSWORD`; a
    /// password file that cannot be read, or one given with a SQLite spool, is a configuration error.
    func opening(spool: String, context: CommandContext) throws(RuleLoadError) -> SpoolOpening {
        try SpoolOpening(
            spool: spool, passwordFile: spoolPasswordFile, environment: context.environment,
            warn: context.diagnostics.write)
    }
}
