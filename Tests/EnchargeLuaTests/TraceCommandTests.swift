import Testing

/// `run --trace` and `check --input X --trace`, in process: one block per record on stderr, in
/// input order, with each event, log line, skip and error at its rule line.
@Suite struct TraceCommandTests {
    static let rule = """
        function on_record(r, ctx)
          log.info("plan", r.plan)
          if not r.email then return encharge.skip("no email") end
          if r.plan == "boom" then error("unknown plan " .. r.plan) end
          encharge.identify{ email = r.email }
          encharge.track("Signed up", { email = r.email }, { plan = r.plan })
        end
        """
    static let records = """
        {"email":"ada@example.com","plan":"pro"}
        {"plan":"free"}
        {"email":"bob@example.com","plan":"boom"}
        {"email":

        """

    /// The blocks of `rules` mapping `input`, as `run` and `check` print them.
    static func blocks(rules: String, input: String) -> String {
        // A traceback is indented 2 past the text after the rule line.
        let frames = String(repeating: " ", count: "  \(rules):4  ".count + 2)
        return """
            trace \(input):1
              \(rules):2  info: plan pro
              \(rules):5  identify {"email":"ada@example.com"}
              \(rules):6  track "Signed up" {"user":{"email":"ada@example.com"},"properties":{"plan":"pro"}}
              outcome: 2 events
            trace \(input):2
              \(rules):2  info: plan free
              \(rules):3  skip: no email
              outcome: skipped
            trace \(input):3
              \(rules):2  info: plan boom
              \(rules):4  error: unknown plan boom
            \(frames)[C]: in function 'error'
            \(frames)\(rules):4: in function 'on_record'
              outcome: failed
            trace \(input):4
              error: invalid JSON at byte 9: unexpected end of input, expected a value; fix the input line
              outcome: failed

            """
    }

    static let events = """
        {"name":"identify","user":{"email":"ada@example.com"}}
        {"name":"Signed up","user":{"email":"ada@example.com"},"properties":{"plan":"pro"}}

        """

    @Test func runPrintsOneBlockPerRecordInInputOrder() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", Self.rule)
        let input = try tmp.write("signups.jsonl", Self.records)
        let result = await InProcessCommandLine().run(["run", rules, input, "--dry-run", "--trace"])
        #expect(result.status == 1)
        #expect(result.stdout == Self.events, "the events still go to stdout as JSON lines")
        // The log lines are in the blocks only, and the failures are not repeated as lines of their own.
        let summary = try #require(result.stderrLines.last)
        #expect(result.stderr == Self.blocks(rules: rules, input: input) + summary + "\n")
        #expect(summary.hasPrefix("done: 4 records: 1 with events, 1 skipped, 2 failed; 2 events"), "\(summary)")
    }

    @Test func withoutTraceTheLogLinesAndFailuresPrintAsBefore() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", Self.rule)
        let input = try tmp.write("signups.jsonl", Self.records)
        let result = await InProcessCommandLine().run(["run", rules, input, "--dry-run", "--quiet"])
        #expect(!result.stderr.contains("trace "))
        #expect(
            result.stderrLines.prefix(4) == [
                "\(input):1: info: plan pro (\(rules):2)",
                "\(input):2: info: plan free (\(rules):2)",
                "\(input):3: info: plan boom (\(rules):2)",
                "\(rules):4: error: unknown plan boom (record \(input):3)",
            ])
    }

    @Test func checkTracesTheSample() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", Self.rule)
        let input = try tmp.write("signups.jsonl", Self.records)
        let result = await InProcessCommandLine().run(["check", rules, "--input", input, "--trace"])
        #expect(result.status == 1)
        #expect(result.stdout == Self.events)
        #expect(
            result.stderr == Self.blocks(rules: rules, input: input) + """
                sample: 4 records: 1 with events, 1 skipped, 2 failed; 2 events
                \(rules): error: 2 sample records failed; fix these before running the rule

                """)
    }

    /// What the rule's top level logs while loading is not part of the first record's block.
    @Test func theTopLevelLogsOutsideTheBlocks() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua", "log.info('loading')\nfunction on_record(r) encharge.identify{ userId = r.id } end\n")
        let input = try tmp.write("ids.jsonl", "{\"id\":\"u1\"}\n")
        let result = await InProcessCommandLine().run(["check", rules, "--input", input, "--trace"])
        #expect(result.status == 0)
        #expect(
            result.stderrLines.prefix(4) == [
                "\(rules): info: loading (\(rules):1)",
                "trace \(input):1",
                "  \(rules):2  identify {\"userId\":\"u1\"}",
                "  outcome: 1 event",
            ])
    }

    @Test func checkTraceNeedsASample() async throws {
        let result = await InProcessCommandLine().run(["check", "rules.lua", "--trace"])
        #expect(result.status == 2)
        #expect(
            result.stderr.hasPrefix(
                "error: --trace shows what the rule does with the --input sample; pass --input too\n"),
            "\(result.stderr)")
    }
}
