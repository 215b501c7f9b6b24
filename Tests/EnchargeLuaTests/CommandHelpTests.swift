import Foundation
import TestSupport
import Testing

/// Each command's `--help`, in process as the binary prints it.
@Suite struct CommandHelpTests {
    @Test(arguments: ["run", "check", "test", "diff", "replay", "serve", "mock-ingest", "init"])
    func everyCommandsHelpHasExitCodesAndExamples(_ command: String) async throws {
        let result = await InProcessCommandLine().run([command, "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\nEXIT CODES\n"))
        let examples = try #require(result.stdout.range(of: "\nEXAMPLES\n"))
        #expect(result.stdout[examples.upperBound...].contains("encharge-lua \(command) "))
        if !["mock-ingest", "init"].contains(command) { #expect(result.stdout.contains("\nRULE:\n")) }
    }

    /// What the help says of spools holds for both backends: a SQLite spool has one owner (not a
    /// PostgreSQL one), the spool's commands leave undelivered events pending at a stop, and the
    /// password order is the file, the URL, then $PGPASSWORD.
    @Test(arguments: ["serve", "deliver", "run", "replay"])
    func spoolFlagsAreDescribedForBothBackends(_ command: String) async throws {
        let result = await InProcessCommandLine().run([command, "--help"])
        let help = result.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(!help.contains("One serve owns a spool"))
        #expect(!help.contains("instead of $PGPASSWORD"))
        #expect(help.contains("it wins over a password in the URL, which wins over $PGPASSWORD"))
        #expect(
            help.contains(
                "seconds requests on the wire may take to finish; the rest is dead-lettered, or stays pending when it came from a spool."
            ))
        if command == "serve" { #expect(help.contains("A SQLite spool is owned by one serve at a time.")) }
    }
}
