import Testing

@testable import EnchargeSpool

/// `--spool` names a SQLite file or a PostgreSQL URL, and the URL is never shown with a password.
@Suite struct SpoolLocationTests {
    @Test(arguments: [
        ("postgres://app:s3cret@db.internal:5432/spool", "postgres://app@db.internal:5432/spool"),
        ("postgresql://app@127.0.0.1/spool?sslmode=disable", "postgresql://app@127.0.0.1/spool?sslmode=disable"),
        ("PostgreSQL://app:p@ss:word@h/spool", "PostgreSQL://app@h/spool"),
        ("postgres://h/spool?password=s3cret&application_name=x", "postgres://h/spool?application_name=x"),
        ("postgres://app:s3cret@h?PASSWORD=s3cret#frag", "postgres://app@h#frag"),
        ("postgres://h", "postgres://h"),
        // An unencoded / ? or # ends the authority inside the password: nothing after the scheme is shown.
        ("postgres://enc:s3cret/w@127.0.0.1:5432/db", "postgres://…"),
        ("postgres://enc:s3cret#w@127.0.0.1:5432/db", "postgres://…"),
        ("postgres://enc:s3cret?w@127.0.0.1:5432/db", "postgres://…"),
        (
            "postgres://enc@127.0.0.1:5432/db?sslmode=disable&password=s3cret",
            "postgres://enc@127.0.0.1:5432/db?sslmode=disable"
        ),
    ])
    func aPostgresURLIsShownWithoutItsPassword(url: String, shown: String) {
        let location = SpoolLocation(parsing: url)
        #expect(location == .postgres(url: url))
        #expect(location.displayName == shown)
        #expect(!location.displayName.contains("s3cret"))
    }

    @Test(arguments: ["encharge-spool.sqlite", "/var/lib/encharge/spool.db", "postgres-spool.db", "./postgres:/x", ""])
    func anythingElseIsASQLitePathShownAsIs(path: String) {
        let location = SpoolLocation(parsing: path)
        #expect(location == .sqlite(path: path))
        #expect(location.displayName == path)
    }
}
