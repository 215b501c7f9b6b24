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
}
