import Foundation
import TestSupport
import Testing

/// Issue 8 on the command line: nothing a rule starts runs without bound in `run`.
@Suite struct RuleSandboxRunTests {
    /// Three records; the rule misbehaves only on the second, so the first and third show the
    /// run goes on (or, for the watchdog, that what came before is kept).
    func runThreeRecords(
        _ tmp: TemporaryDirectory, rule: String, flags: [String] = []
    ) async throws -> InProcessCommandLine.Result {
        let rules = try tmp.write("rules.lua", rule)
        let input = try tmp.write("in.jsonl", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n")
        return await InProcessCommandLine().run(
            ["run", rules, input, "--dry-run", "--dead-letter", tmp.path + "/dead.jsonl"] + flags)
    }

    func deadLetters(_ tmp: TemporaryDirectory) throws -> [[String: Any]] {
        try tmp.lines("dead.jsonl").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    static let identifyTwoAndThree =
        #"{"name":"identify","user":{"userId":"1"}}"# + "\n"
        + #"{"name":"identify","user":{"userId":"3"}}"# + "\n"

    // MARK: - Finalizers and message handlers

    // The time limits replace the binary test's process timeout: a rule that never ends fails the test.
    @Test(
        .timeLimit(.minutes(1)),
        arguments: [
            "setmetatable({}, {__gc = function() while true do end end})",
            "local mt = {__gc = true} local t = setmetatable({}, mt) mt.__gc = function() while true do end end",
        ])
    func aFinalizerFailsItsRecordAndTheRunEnds(badLine: String) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let result = try await runThreeRecords(
            tmp,
            rule: """
                function on_record(r, ctx)
                  if r.id == 2 then
                    \(badLine)
                  end
                  encharge.identify{ userId = r.id }
                end
                """, flags: ["--time-limit", "1"])
        #expect(result.status == 1)
        #expect(result.stdout == Self.identifyTwoAndThree)
        #expect(result.stderr.contains("rules.lua:3: error: setmetatable: a __gc finalizer is not allowed in rules"))
        #expect(result.stderr.contains("(record \(tmp.path)/in.jsonl:2)"))
    }

    @Test(.timeLimit(.minutes(1))) func aFinalizerAtTheTopLevelIsALoadError() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let result = try await runThreeRecords(
            tmp,
            rule: """
                setmetatable({}, {__gc = function() while true do end end})
                function on_record(r, ctx) end
                """, flags: ["--time-limit", "1"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("rules.lua:1: setmetatable: a __gc finalizer is not allowed in rules"))
    }

    @Test(.timeLimit(.minutes(1))) func anEndlessXpcallHandlerInARecordFailsOnlyThatRecord() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let result = try await runThreeRecords(
            tmp,
            rule: """
                function on_record(r, ctx)
                  if r.id == 2 then
                    xpcall(error, function() while true do end end)
                  end
                  encharge.identify{ userId = r.id }
                end
                """, flags: ["--time-limit", "1"])
        #expect(result.status == 1)
        #expect(result.stdout == Self.identifyTwoAndThree)
        #expect(result.stderr.contains("rules.lua:3: error: instruction limit of 50000000 exceeded"))
    }

    @Test(.timeLimit(.minutes(1))) func anEndlessXpcallHandlerAtTheTopLevelIsALoadError() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let result = try await runThreeRecords(
            tmp,
            rule: """
                xpcall(error, function() while true do end end)
                function on_record(r, ctx) end
                """, flags: ["--time-limit", "1"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("rules.lua:1: instruction limit of 50000000 exceeded"))
    }

    // MARK: - C calls

    @Test(.timeLimit(.minutes(1))) func aPathologicalPatternFailsItsRecordLikeAnEndlessLoop() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let result = try await runThreeRecords(
            tmp,
            rule: """
                function on_record(r, ctx)
                  local subject = string.rep("a", 40000)
                  if r.id == 2 then subject:find(".-.-.-.-.-.-b") end
                  encharge.identify{ userId = r.id }
                end
                """, flags: ["--time-limit", "2"])
        #expect(result.status == 1)
        #expect(result.stdout == Self.identifyTwoAndThree)
        #expect(
            result.stderr.contains(
                "rules.lua:3: error: instruction limit of 50000000 exceeded (an endless loop?) (record \(tmp.path)/in.jsonl:2)"
            ))
    }

    // MARK: - The host's own work

    @Test(.timeLimit(.minutes(1))) func aSharedSubtableDAGFailsItsRecordQuickly() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let start = Date()
        let result = try await runThreeRecords(
            tmp,
            rule: """
                function on_record(r, ctx)
                  local t = {1} for i = 1, 24 do t = {t, t} end
                  if r.id == 2 then encharge.track("Big", { userId = "u" }, { t = t }) end
                  if r.id == 3 then log.info(t) json.encode(t) end
                  encharge.identify{ userId = r.id }
                end
                """, flags: ["--memory-limit", "16", "--time-limit", "1"])
        #expect(Date().timeIntervalSince(start) < 15)
        #expect(result.status == 1)
        #expect(result.stdout == #"{"name":"identify","user":{"userId":"1"}}"# + "\n")
        #expect(result.stderr.contains("rules.lua:3: error: track: properties.t"))
        #expect(result.stderr.contains("value is larger than 1048576 bytes, the most one event may hold; send less"))
        #expect(result.stderr.contains("rules.lua:4: error: json.encode: "))
        // Whichever cap the conversion meets first fails the record: memory on a quiet machine,
        // the deadline on a loaded one (CI). Either is the rule's budget, not the host's.
        let budgetMessages = ["memory limit of 16 MiB exceeded", "time limit exceeded", "instruction limit of"]
        let record3 = result.stderr.split(separator: "\n").first { $0.contains("rules.lua:4: error: json.encode: ") }
        #expect(budgetMessages.contains { record3?.contains($0) == true }, "\(result.stderr)")
        #expect(result.stderr.utf8.count < 1 << 20)
    }

    @Test func eventsPerRecordAreBounded() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rule = """
            function on_record(r, ctx)
              for i = 1, 1001 do encharge.track("Tick", { userId = "u" }, { i = i }) end
            end
            """
        let refused = try await runThreeRecords(tmp, rule: rule)
        #expect(refused.status == 1)
        #expect(refused.stdout.isEmpty)
        #expect(
            refused.stderr.contains(
                "rules.lua:2: error: track: more than 1000 events for one record; emit fewer (or raise --max-events-per-record)"
            ))
        let allowed = try await runThreeRecords(tmp, rule: rule, flags: ["--max-events-per-record", "1001"])
        #expect(allowed.status == 0)
        #expect(allowed.stdout.split(separator: "\n").count == 3003)
    }

    @Test func anEventLargerThanTheAPITakesFailsItsRecord() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let result = try await runThreeRecords(
            tmp,
            rule: """
                function on_record(r, ctx)
                  local notes = r.id == 2 and string.rep("x", 2 * 1024 * 1024) or "short"
                  encharge.track("Note", { userId = "u" .. r.id }, { notes = notes })
                end
                """)
        #expect(result.status == 1)
        #expect(result.stdout.split(separator: "\n").count == 2)
        #expect(
            result.stderr.contains("rules.lua:3: error: track: properties.notes: value is larger than 1048576 bytes"))
    }

    @Test func aHugeErrorMessageIsCutBeforeStderrAndTheDeadLetter() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let result = try await runThreeRecords(
            tmp,
            rule: """
                function on_record(r, ctx)
                  if r.id == 2 then
                    error(setmetatable({}, {__tostring = function() return string.rep("x", 3e7) end}))
                  end
                  encharge.identify{ userId = r.id }
                end
                """)
        #expect(result.status == 1)
        #expect(result.stdout == Self.identifyTwoAndThree)
        #expect(result.stderr.utf8.count < 16 << 10)
        // One marker, on the stderr line and in the dead letter, counting all the bytes left out
        // (Lua cuts the message first and the diagnostics cut it again: the counts add up).
        let line = try #require(result.stderr.split(separator: "\n").first { $0.contains("xxxx") })
        #expect(line.utf8.count < 8 << 10)
        #expect(line.hasPrefix("\(tmp.path)/in.jsonl:2: error: xxx"))
        let shown = line.filter { $0 == "x" }.count
        #expect(line.hasSuffix("xx… (\(30_000_000 - shown) bytes more)"), "\(line.suffix(60))")
        #expect(line.components(separatedBy: "bytes more").count == 2)
        #expect(tmp.read("dead.jsonl").utf8.count < 32 << 10)
        let dead = try deadLetters(tmp)
        try #require(dead.count == 1)
        let error = try #require(dead[0]["error"] as? String)
        #expect(error.utf8.count < 8 << 10)
        let kept = error.filter { $0 == "x" }.count
        #expect(error.hasSuffix("xx… (\(30_000_000 - kept) bytes more)"), "\(error.suffix(60))")
        #expect(error.components(separatedBy: "bytes more").count == 2)
    }

    @Test func jsonDecodeFailsOnTheMemoryCapWhileDecoding() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let result = try await runThreeRecords(
            tmp,
            rule: """
                function on_record(r, ctx)
                  local text = r.id == 2 and "[" .. string.rep("{},", 2e6) .. "{}]" or "[{}]"
                  local list = json.decode(text)
                  encharge.identify{ userId = r.id }
                end
                """, flags: ["--memory-limit", "16"])
        #expect(result.status == 1)
        #expect(result.stdout == Self.identifyTwoAndThree)
        #expect(result.stderr.contains("rules.lua:3: error: json.decode: memory limit of 16 MiB exceeded"))
    }

    // MARK: - State between records

    @Test func garbageLeftByAMemoryFailureDoesNotFailTheNextRecord() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let result = try await runThreeRecords(
            tmp,
            rule: """
                function on_record(r, ctx)
                  if r.id == 1 then local t = {} for i = 1, 1e9 do t[i] = {i} end end
                  local a = string.rep("x", 4e6) a = nil
                  local b = string.rep("y", 6e6)
                  local ok, message = pcall(error, "an ordinary error")
                  encharge.identify{ userId = r.id, note = message }
                end
                """, flags: ["--memory-limit", "16"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("rules.lua:2: error: memory limit of 16 MiB exceeded"))
        #expect(
            result.stdout == #"{"name":"identify","user":{"note":"an ordinary error","userId":"2"}}"# + "\n"
                + #"{"name":"identify","user":{"note":"an ordinary error","userId":"3"}}"# + "\n")
    }

    // MARK: - The lint

    @Test(arguments: ["_G[nil] = 1", "_G[0/0] = 1"])
    func checkReportsABadGlobalKeyCleanly(assignment: String) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r, ctx)
              \(assignment)
            end
            """)
        let sample = try tmp.write("in.jsonl", "{\"id\":1}\n")
        let result = await InProcessCommandLine().run(["check", rules, "--input", sample])
        #expect(result.status == 1)
        let expected = assignment.contains("nil") ? "index is nil" : "index is NaN"
        #expect(result.stderr.contains("rules.lua:2: error: \(expected) (record \(sample):1)"))
        // The failed sample fails the check (no "ok"), and a key that is no name is no global.
        #expect(result.stderr.contains("rules.lua: error: 1 sample record failed; fix these before running the rule"))
        #expect(!result.stderr.contains(": ok ("))
        #expect(!result.stderr.contains("undeclared global"), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))

        let topLevel = try tmp.write("top.lua", "\(assignment)\nfunction on_record(r, ctx) end\n")
        let loadResult = await InProcessCommandLine().run(["check", topLevel])
        #expect(loadResult.status == 2)
        #expect(loadResult.stderr.contains("top.lua:1: \(expected) (while loading the rules file)"))
    }
}
