import Foundation
import TestSupport
import Testing

/// `--trace` where a process is needed: a rule call stuck in a library function (the watchdog gives
/// the call up and `run` ends with `_exit`), and `serve`, which takes over the process's signals.
@Suite struct TraceEndToEndTests {
    @Test func aStuckCallEndsItsRecordsBlockWithWhatCameBefore() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        _ = try tmp.write(
            "rules.lua",
            """
            function on_record(r, ctx)
              log.info("record", r.id)
              if r.id == 2 then table.move({}, 1, 1e12, 2) end
              encharge.identify{ userId = r.id }
            end
            """)
        _ = try tmp.write("in.jsonl", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n")
        let result = try Binary.run(
            ["run", "rules.lua", "in.jsonl", "--dry-run", "--trace", "--time-limit", "0.5"], directory: tmp.path,
            timeout: 60)
        #expect(!result.timedOut)
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        try #require(lines.count >= 8, "\(result.stderr)")
        #expect(
            Array(lines[0..<7]) == [
                "trace in.jsonl:1",
                "  rules.lua:2  info: record 1",
                "  rules.lua:4  identify {\"userId\":\"1\"}",
                "  outcome: 1 event",
                "trace in.jsonl:2",
                "  rules.lua:2  info: record 2",
                lines[6],
            ])
        #expect(lines[6].hasPrefix("  rules.lua:3  error: a call of the rule ran for "), "\(lines[6])")
        #expect(lines[6].hasSuffix("the run stops here, so change the rule near this line"), "\(lines[6])")
        #expect(lines[7] == "  outcome: failed")
        #expect(!result.stderr.contains("trace in.jsonl:3"))
    }

    @Test func serveTracesEachRequestOnStandardError() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        _ = try tmp.write(
            "rules.lua",
            """
            function on_webhook(req)
              log.info("seq", req.json.seq)
              encharge.identify{ email = req.json.email }
            end
            """)
        let serve = try ServeProcess(
            [
                "serve", "rules.lua", "--trace", "--port", "0", "--spool", tmp.file("spool.sqlite"), "--endpoint",
                "http://127.0.0.1:9/v1/", "--drain-timeout", "0.5",
            ], in: tmp, environment: ["ENCHARGE_WRITE_KEY": "trace-e2e-write-key-2f81"])
        defer { serve.stop() }
        let reply = try serve.postJSON("/signup", #"{"email":"ada@example.com","seq":1}"#)
        #expect(reply.status == 202, "\(reply)")
        let id = try #require(reply.headers["x-request-id"])
        let block = """
            trace POST /signup \(id)
              rules.lua:2  info: seq 1
              rules.lua:3  identify {"email":"ada@example.com"}
              outcome: 202, 1 event

            """
        #expect(await eventually("serve printed the block") { serve.stderr.contains(block) }, "\(serve.stderr)")
        #expect(!serve.stderr.contains("info: seq 1 ("), "the log line is printed in the block only")
    }
}
