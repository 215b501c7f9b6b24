import Foundation
import TestSupport
import Testing

/// `encharge-lua run --dry-run` through the built binary: what needs the process itself (the golden
/// example run from the package root, and piped standard input). The rest runs in process in
/// EnchargeLuaTests/RunDryRunTests.swift.
@Suite struct RunDryRunTests {
    // The golden example: the committed examples/ run as a user runs them, from the package root.
    @Test func signupsExampleMatchesTheGoldenEvents() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let result = try Binary.run([
            "run", "examples/signups/rules.lua", "examples/signups/signups.jsonl", "--dry-run",
            "--dead-letter", tmp.path + "/dead.jsonl",
        ])
        #expect(result.status == 1, "one record of the example is deliberately bad")
        #expect(result.stdout == (try golden("signups.jsonl.events")))
        #expect(
            result.stderr.contains(
                "examples/signups/rules.lua:40: error: identify: user.email: 'not-an-email' does not look like an email address (record examples/signups/signups.jsonl:8)"
            ))
        #expect(result.stderr.contains("done: 12 records: 10 with events, 1 skipped, 1 failed; 20 events"))
        let dead = tmp.lines("dead.jsonl")
        try #require(dead.count == 1)
        let entry = try JSONSerialization.jsonObject(with: Data(dead[0].utf8)) as! [String: Any]
        #expect(entry["kind"] as? String == "record")
        #expect(entry["source"] as? String == "examples/signups/signups.jsonl:8")
        #expect((entry["traceback"] as? String)?.contains("in function 'on_record'") == true)
        #expect((entry["rules_sha256"] as? String)?.count == 64)
    }

    // The golden example: the committed examples/ run as a user runs them, from the package root.
    @Test func csvExampleMatchesTheGoldenEvents() throws {
        let result = try Binary.run([
            "run", "examples/signups/rules.lua", "examples/signups/signups.csv", "--dry-run", "--dead-letter",
            "/dev/null",
        ])
        #expect(result.status == 0)
        #expect(result.stdout == (try golden("signups.csv.events")))
    }

    // Standard input piped into the process (`run` with no input file reads stdin).
    @Test func stdinWithFormatAndSettings() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r, ctx)
              encharge.track("Seen", { email = r.email }, { plan = encharge.settings.plan, at = ctx.source })
            end
            """)
        let result = try Binary.run(
            ["run", rules, "--dry-run", "--format", "csv", "--set", "plan=gold"], stdin: "email\na@x.io\n")
        #expect(result.status == 0)
        #expect(
            result.stdout == #"{"name":"Seen","user":{"email":"a@x.io"},"properties":{"at":"stdin:1","plan":"gold"}}"#
                + "\n")
    }
}
