import Foundation
import TestSupport
import Testing

/// `encharge-lua run --dry-run` and `check`, run in process as the binary runs them.
@Suite struct RunDryRunTests {
    @Test func jsonArrayInputAndSeveralInputsInOneRun() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua", "function on_record(r, ctx) encharge.identify{ userId = r.id, source = ctx.source } end")
        let array = try tmp.write("a.json", "[\n {\"id\": 1},\n {\"id\": 2}\n]")
        let lines = try tmp.write("b.jsonl", "{\"id\": 3}\n")
        let result = await InProcessCommandLine().run(["run", rules, array, lines, "--dry-run"])
        #expect(result.status == 0)
        let sources = result.stdout.split(separator: "\n").map { String($0) }
        #expect(
            sources == [
                #"{"name":"identify","user":{"source":"\#(array):2","userId":"1"}}"#,
                #"{"name":"identify","user":{"source":"\#(array):3","userId":"2"}}"#,
                #"{"name":"identify","user":{"source":"\#(lines):1","userId":"3"}}"#,
            ])
    }

    @Test func hostileRulesFailTheirRecordAndTheRunGoesOn() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r, ctx)
              if r.k == "rep" then local s = string.rep("x", 1e9) end
              if r.k == "grow" then local t = {} for i = 1, 1e9 do t[i] = {i} end end
              if r.k == "loop" then while true do end end
              if r.k == "rec" then local function f(n) return f(n + 1) + 1 end f(1) end
              if r.k == "err" then error({}) end
              encharge.identify{ userId = ctx.source }
            end
            """)
        var input = ""
        for k in ["rep", "grow", "loop", "rec", "err"] { input += "{\"k\":\"\(k)\"}\n{\"k\":\"ok\"}\n" }
        let data = try tmp.write("in.jsonl", input)
        let result = await InProcessCommandLine().run([
            "run", rules, data, "--dry-run", "--dead-letter", tmp.path + "/dead.jsonl", "--instruction-limit",
            "5000000",
        ])
        #expect(result.status == 1)
        #expect(result.stdout.split(separator: "\n").count == 5, "every good record after a hostile one is mapped")
        #expect(result.stderr.contains("memory limit of 64 MiB exceeded"))
        #expect(result.stderr.contains("rules.lua:4: error: instruction limit of 5000000 exceeded"))
        #expect(result.stderr.contains("rules.lua:5: error: stack overflow"))
        #expect(result.stderr.contains("rules.lua:6: error: (error object is a table value)"))
        #expect(tmp.lines("dead.jsonl").count == 5)
    }

    @Test func malformedAndInvalidUTF8LinesAreDeadLettered() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", "function on_record(r) encharge.identify{ email = r.email } end")
        let data = tmp.path + "/in.jsonl"
        var bytes = Data("{\"email\":\"a@x.io\"}\n{\"email\":\"b@x.io\"\n".utf8)
        bytes.append(contentsOf: [0x7B, 0x22, 0x65, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D, 0x0A])  // {"e":"\xFF"}
        bytes.append(Data("[1]\n{\"email\":\"c@x.io\"}\n".utf8))
        try bytes.write(to: URL(fileURLWithPath: data))
        let result = await InProcessCommandLine().run([
            "run", rules, data, "--dry-run", "--dead-letter", tmp.path + "/dead.jsonl",
        ])
        #expect(result.status == 1)
        #expect(result.stdout.split(separator: "\n").count == 2)
        #expect(
            result.stderr.contains(
                "in.jsonl:2: error: invalid JSON at byte 17: unexpected end of input inside an object"))
        #expect(result.stderr.contains("in.jsonl:3: error: invalid JSON at byte 6: invalid UTF-8 byte 0xFF"))
        #expect(result.stderr.contains("in.jsonl:4: error: record is an array, expected a JSON object"))
        #expect(tmp.lines("dead.jsonl").count == 3)
    }

    @Test func failFastStopsAtTheFirstFailure() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", "function on_record(r) encharge.identify{ email = r.email } end")
        let data = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n{}\n{\"email\":\"c@x.io\"}\n")
        let result = await InProcessCommandLine().run([
            "run", rules, data, "--dry-run", "--fail-fast", "--dead-letter", "/dev/null",
        ])
        #expect(result.status == 1)
        #expect(result.stdout.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("done: 2 records"))
    }

    @Test(
        arguments: [
            ("missing.lua", nil, "error: cannot read"),
            ("syntax.lua", "function on_record(r)\n  if then end\nend", "syntax.lua:2:"),
            ("noentry.lua", "function on_recrod(r) end", "defines no on_record(record, ctx) function"),
            (
                "toplevel.lua", "error('broken at load')",
                "toplevel.lua:1: broken at load (while loading the rules file)"
            ),
        ] as [(String, String?, String)])
    func ruleLoadErrorsExit2WithOneLine(name: String, source: String?, message: String) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        if let source { _ = try tmp.write(name, source) }
        let data = try tmp.write("in.jsonl", "{}\n")
        let result = await InProcessCommandLine().run(["run", tmp.path + "/" + name, data, "--dry-run"])
        #expect(result.status == 2)
        #expect(result.stderr.contains(message))
        #expect(result.stdout.isEmpty)
    }

    @Test func usageErrorsExit2() async throws {
        let result = await InProcessCommandLine().run(["run", "rules.lua", "input.txt", "--dry-run"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot tell the format of 'input.txt'"))
    }

    @Test func checkReportsUndeclaredGlobalsAndPrintsSampleEvents() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            counter = 0
            function on_record(r)
              counter = counter + 1
              lastEmail = r.email
              encharge.identify{ email = r.email }
            end
            """)
        let sample = try tmp.write("sample.jsonl", "{\"email\":\"a@x.io\"}\n")
        let result = await InProcessCommandLine().run(["check", rules, "--input", sample])
        #expect(result.status == 0)
        #expect(result.stdout == #"{"name":"identify","user":{"email":"a@x.io"}}"# + "\n")
        // Issue 8: on_record assigning any global, declared at the top level or not, is warned about
        // from the source, and the run-time lint's warning for the same line is not repeated.
        #expect(result.stderr.contains("rules.lua:4: warning: on_record assigns the global 'lastEmail'"))
        #expect(!result.stderr.contains("assignment to undeclared global 'lastEmail'"))
        #expect(result.stderr.contains("rules.lua:3: warning: on_record assigns the global 'counter'"))
        #expect(result.stderr.contains("ok (on_record; 2 warnings)"))
        let bad = try tmp.write("bad.lua", "function on_recrod(r) end")
        let failed = await InProcessCommandLine().run(["check", bad])
        #expect(failed.status == 2)
        #expect(failed.stderr.contains("did you mean to name 'on_recrod' on_record or on_webhook?"))
    }
}
