import TestSupport
import Testing

/// `EnchargeLua.run` is what the binary's `main` runs: help, errors and exit statuses reach the
/// injected context the way they reach the process's streams.
@Suite struct InProcessCommandLineTests {
    @Test func helpAndVersionGoToStandardOutputAndExitZero() async {
        let cli = InProcessCommandLine()
        let help = await cli.run(["run", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.hasPrefix("OVERVIEW: Map records through a rule"))
        #expect(help.stderr.isEmpty)
        let version = await cli.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdoutLines == ["0.1.0"])
    }

    @Test func aUsageErrorExitsTwoWithTheToolsErrorStyleAndTheUsage() async {
        let result = await InProcessCommandLine().run(["run"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.first == "error: missing expected argument '<rules.lua>'")
        #expect(result.stderr.contains("Usage: encharge-lua run [<options>] <rules.lua> [<input> ...]"))
    }

    @Test func aMissingRulesFileIsAConfigurationErrorOnTheContextsStandardError() async {
        let result = await InProcessCommandLine().run(["check", "/nonexistent/rules.lua"])
        #expect(result.status == 2)
        #expect(
            result.stderrLines == [
                "error: cannot read /nonexistent/rules.lua: No such file or directory; check the path of the rules file"
            ])
    }

    @Test func aDryRunPrintsItsEventsOnTheContextsStandardOutput() async throws {
        try await TemporaryDirectory.with(prefix: "cli") { directory in
            let rules = try directory.write(
                "rules.lua", "function on_record(r) encharge.track('Signed up', { email = r.email }) end\n")
            let input = try directory.write("in.jsonl", #"{"email":"ann@example.com"}"# + "\n")
            let result = await InProcessCommandLine().run(["run", rules, input, "--dry-run", "--quiet"])
            #expect(result.status == 0)
            #expect(result.stdoutLines == [#"{"name":"Signed up","user":{"email":"ann@example.com"}}"#])
        }
    }
}
