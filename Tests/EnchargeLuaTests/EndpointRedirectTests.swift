import Foundation
import TestSupport
import Testing

/// Redirects from the endpoint (issue 7): a 307/308 to the same origin is followed with the method,
/// body and token; a redirect to another host is never followed (the token would go with it) and
/// stops `run` with a message naming the URL to pass as `--endpoint`.
@Suite(.serialized) struct EndpointRedirectTests {
    static let key = "e2e-redirect-key-a41d"

    func input(_ tmp: TemporaryDirectory) throws -> (rules: String, input: String) {
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r, ctx)
              encharge.track("Step", { userId = r.uid }, { seq = r.seq })
            end
            """)
        var lines = ""
        for i in 0..<30 { lines += "{\"uid\":\"u\(i % 3)\",\"seq\":\(i)}\n" }
        return (rules, try tmp.write("in.jsonl", lines))
    }

    @Test(.timeLimit(.minutes(1)), arguments: [307, 308])
    func aSameOriginRedirectIsFollowedWithTheBodyAndToken(status: Int) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let (rules, input) = try input(tmp)
        try await ScriptedIngestServer.with(script: { request, _ in
            request.path == "/v1/" ? .redirect(status, to: "/v1/moved") : .ok
        }) { server, endpoint in
            var cli = InProcessCommandLine()
            cli.environment = ["ENCHARGE_WRITE_KEY": Self.key]
            let run = await cli.run(
                ["run", rules, input, "--endpoint", endpoint, "--dead-letter", tmp.path + "/dead.jsonl"])
            #expect(run.status == 0, "stderr: \(run.stderr)")
            #expect(tmp.read("dead.jsonl").isEmpty)
            let received = server.received
            let original = received.filter { $0.path == "/v1/" }
            let moved = received.filter { $0.path == "/v1/moved" }
            #expect(original.count == 30 && moved.count == 30)
            #expect(moved.allSatisfy { $0.token == Self.key })
            #expect(Set(moved.map(\.body)) == Set(original.map(\.body)))
            #expect(moved.allSatisfy { $0.text.contains("\"seq\":") })
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aRedirectToAnotherHostStopsTheRunWithoutSendingTheToken() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let (rules, input) = try input(tmp)
        // `localhost` is another host name for this very server: following would send it the token.
        try await ScriptedIngestServer.with(script: { request, _ in
            request.path == "/v1/" ? .redirect(307, to: "http://localhost:\(request.serverPort)/v2/") : .ok
        }) { server, endpoint in
            var cli = InProcessCommandLine()
            cli.environment = ["ENCHARGE_WRITE_KEY": Self.key]
            let run = await cli.run(
                ["run", rules, input, "--endpoint", endpoint, "--dead-letter", tmp.path + "/dead.jsonl"])
            let target = "http://localhost:\(server.port)/v2/"
            #expect(run.status == 2, "stderr: \(run.stderr)")
            #expect(run.stderr.hasSuffix("error: the endpoint redirects to \(target); pass that as --endpoint\n"))
            #expect(!server.received.isEmpty)
            #expect(server.received.allSatisfy { $0.path == "/v1/" && $0.host == "127.0.0.1:\(server.port)" })
            let dead = tmp.lines("dead.jsonl")
            #expect(dead.count == JobSummary.numbers(run.stderr)["events"] && !dead.isEmpty)
            #expect(dead.allSatisfy { $0.contains("the endpoint redirects to \(target); pass that as --endpoint") })
        }
    }
}
