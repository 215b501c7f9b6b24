import TestSupport
import Testing

/// Inputs through the built binary: only `serve` reading request bodies. The other input tests run in
/// process in EnchargeLuaTests/InputTests.swift.
@Suite struct InputEndToEndTests {
    // Needs a process: serve stops only on SIGTERM/SIGINT and writes rule warnings to the process's stderr.
    @Test func serveKeepsBigIntegersAndWarnsAboutRepeatedKeysInRequestBodies() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_webhook(req)
              return { status = 200, body = json.encode(req.json) .. " " .. tostring(req.json.id) }
            end
            """)
        let serve = try ServeProcess(
            [
                "serve", rules, "--port", "0", "--spool", tmp.path + "/spool.sqlite", "--endpoint",
                "http://127.0.0.1:9/",
            ],
            in: tmp, environment: ["ENCHARGE_WRITE_KEY": "test-write-key"])
        defer { serve.kill9() }
        let reply = try serve.postJSON("/", #"{"id":12345678901234567890,"plan":"a","plan":"b"}"#)
        #expect(reply.status == 200, "\(reply) \(serve.stderr)")
        #expect(reply.text == #"{"id":12345678901234567890,"plan":"b"} 12345678901234567890"#)
        await eventually("serve warns about the repeated key; stderr: \(serve.stderr)", timeout: .seconds(10)) {
            serve.stderr.contains(
                #"warning: key "plan" appears more than once in one JSON object; the last value is used"#)
        }
    }
}
