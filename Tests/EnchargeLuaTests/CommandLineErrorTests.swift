import Foundation
import TestSupport
import Testing

/// Errors a command line meets before or while it starts, in process as the binary runs them:
/// an unreadable input, a port in use, contradictory key flags, a missing write key.
@Suite struct CommandLineErrorTests {
    @Test func anUnreadableInputIsReportedAsAnError() async throws {
        try await TemporaryDirectory.with(prefix: "cli") { tmp in
            let rules = try tmp.write("rules.lua", "function on_record(r) end")
            let result = await InProcessCommandLine().run(["run", rules, tmp.path + "/missing.jsonl", "--dry-run"])
            #expect(result.status == 2, "a missing input is an input error, not a failed record")
            #expect(
                result.stderr.hasPrefix(
                    "error: cannot read \(tmp.path)/missing.jsonl: No such file or directory; check the path"),
                "\(result.stderr)")
        }
    }

    @Test func mockIngestOnAPortInUseSaysSo() async throws {
        try await ScriptedIngestServer.with { server, _ in
            let port = "\(server.port)"
            let second = await InProcessCommandLine().run(["mock-ingest", "--port", port])
            #expect(second.status == 2)
            #expect(second.stderr == "error: cannot listen on 127.0.0.1:\(port): address already in use\n")
        }
    }

    @Test func mockIngestRefusesBothKeyFlags() async {
        let result = await InProcessCommandLine().run([
            "mock-ingest", "--write-key", "a", "--write-key-file", "/dev/null",
        ])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: give either --write-key or --write-key-file, not both"))
    }

    @Test func missingWriteKeyExits2WithAHint() async {
        let examples = Binary.packageRoot + "/examples/signups"
        // No ENCHARGE_WRITE_KEY: the context's environment is only what the test gives.
        let result = await InProcessCommandLine().run(
            ["run", examples + "/rules.lua", examples + "/signups.jsonl", "--endpoint", "http://127.0.0.1:9/v1/"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("set ENCHARGE_WRITE_KEY or pass --write-key-file PATH (or use --dry-run"))
    }
}
