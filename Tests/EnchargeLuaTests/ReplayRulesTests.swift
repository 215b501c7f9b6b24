import Foundation
import TestSupport
import Testing

/// `replay --rules`, in process as the binary runs it, against a loopback Ingest API.
@Suite struct ReplayRulesTests {
    static let key = "e2e-secret-write-key-5c1f"

    @Test(.timeLimit(.minutes(2)))
    func replayRemapsFailedRecordsThroughTheFixedRule() async throws {
        try await TemporaryDirectory.with(prefix: "cli") { tmp in
            try await ScriptedIngestServer.with { server, endpoint in
                let broken = try tmp.write(
                    "broken.lua", "function on_record(r) encharge.identify{ mail = r.email } end")
                let fixed = try tmp.write("fixed.lua", "function on_record(r) encharge.identify{ email = r.email } end")
                let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n{\"email\":\"b@x.io\"}\n")
                var cli = InProcessCommandLine()
                cli.environment = ["ENCHARGE_WRITE_KEY": Self.key]
                let first = await cli.run(
                    ["run", broken, input, "--endpoint", endpoint, "--dead-letter", tmp.path + "/dead.jsonl"])
                #expect(first.status == 1)
                #expect(tmp.lines("dead.jsonl").count == 2)
                let second = await cli.run([
                    "replay", tmp.path + "/dead.jsonl", "--rules", fixed, "--endpoint", endpoint,
                ])
                #expect(second.status == 0, "stderr: \(second.stderr)")
                #expect(server.accepted.map(\.person) == ["a@x.io", "b@x.io"])
                #expect(server.accepted.allSatisfy { $0.token == Self.key })
            }
        }
    }
}
