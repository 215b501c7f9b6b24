import EnchargeKit
import JSONKit
import SystemKit
import Testing

@testable import EnchargeRules

/// `RuleEngine.trace` and `TraceBlock`: what a call did, in order, with the rule lines, rendered
/// as the `--trace` block.
@Suite struct RuleTraceTests {
    /// A traced engine for `source` (named `rules.lua`), its `log.*` lines going to `log`.
    func engine(_ source: String, log: OutputBuffer = OutputBuffer()) throws -> RuleEngine {
        var options = RuleOptions(rulesPath: "rules.lua")
        options.source = Array(source.utf8)
        options.logWriter = log
        options.trace = true
        return try RuleEngine(options: options)
    }

    /// The block for mapping `record` (JSON text) as `signups.jsonl:42`.
    func block(_ engine: RuleEngine, _ record: String) throws -> String {
        var bytes = Array(record.utf8)
        let outcome = bytes.withUnsafeMutableBytes {
            engine.map(json: UnsafeRawBufferPointer($0), source: "signups.jsonl:42")
        }
        try #require(engine.trace != nil)
        let entries = engine.trace!.take()
        return TraceBlock.render(
            header: "signups.jsonl:42", entries: entries, outcome: TraceBlock.outcome(of: outcome))
    }

    static let signup = """
        local function plan(r)
          return r.plan or "free"
        end

        function on_record(r)
          log.info("looking up plan")
          local p = plan(r)
          if not r.email then return encharge.skip("no email") end
          if r.email == "boom@example.com" then error("no plan for " .. r.email) end
          encharge.identify{ email = r.email, firstName = r.first_name }
          print("identified", r.email)
          encharge.track("Signed up", { email = r.email },
                         { plan = p })
        end
        """

    @Test func eventsAndLogLinesComeInOrderWithTheirRuleLines() throws {
        let log = OutputBuffer()
        let e = try engine(Self.signup, log: log)
        #expect(
            try block(e, #"{"email":"ada@example.com","first_name":"Ada","plan":"pro"}"#) == """
                trace signups.jsonl:42
                  rules.lua:6   info: looking up plan
                  rules.lua:10  identify {"email":"ada@example.com","firstName":"Ada"}
                  rules.lua:11  info: identified ada@example.com
                  rules.lua:12  track "Signed up" {"user":{"email":"ada@example.com"},"properties":{"plan":"pro"}}
                  outcome: 2 events

                """)
        // In trace mode the log lines are in the block only, not printed a second time.
        #expect(log.lines == [])
    }

    @Test func aSkipShowsItsReasonAndLine() throws {
        #expect(
            try block(engine(Self.signup), #"{"plan":"pro"}"#) == """
                trace signups.jsonl:42
                  rules.lua:6  info: looking up plan
                  rules.lua:8  skip: no email
                  outcome: skipped

                """)
    }

    @Test func anErrorShowsItsMessageAtItsLineAndTheTraceback() throws {
        #expect(
            try block(engine(Self.signup), #"{"email":"boom@example.com"}"#) == """
                trace signups.jsonl:42
                  rules.lua:6  info: looking up plan
                  rules.lua:9  error: no plan for boom@example.com
                                 [C]: in function 'error'
                                 rules.lua:9: in function 'on_record'
                  outcome: failed

                """)
    }

    @Test func anInvalidEventFailsAtTheLineThatEmittedIt() throws {
        let e = try engine("function on_record(r)\n  encharge.track(\"x\", { name = r.name })\nend\n")
        let text = try block(e, #"{"name":"Ada"}"#)
        #expect(
            text.hasPrefix("trace signups.jsonl:42\n  rules.lua:2  error: track: user needs email or userId\n"),
            "\(text)")
        #expect(text.hasSuffix("  outcome: failed\n"), "\(text)")
    }

    @Test func anInputThatIsNotARecordIsAnErrorWithoutARuleLine() throws {
        #expect(
            try block(engine(Self.signup), "[1]") == """
                trace signups.jsonl:42
                  error: record is an array, expected a JSON object
                  outcome: failed

                """)
    }

    /// A record's values are escaped: a newline in a value or a reason cannot start a line that
    /// looks like the block's own.
    @Test func valuesFromTheRecordCannotForgeLines() throws {
        let e = try engine(
            """
            function on_record(r)
              log.warn(r.note)
              encharge.track(r.name, { userId = "u" })
              return encharge.skip(r.note)
            end
            """)
        let text = try block(e, #"{"note":"x\n  outcome: 9 events\u001b[2J","name":"A\u0085B"}"#)
        #expect(
            text == """
                trace signups.jsonl:42
                  rules.lua:2  warning: x\\n  outcome: 9 events\\u001b[2J
                  rules.lua:3  track "A\\u0085B" {"user":{"userId":"u"}}
                  rules.lua:4  skip: x\\n  outcome: 9 events\\u001b[2J
                  outcome: skipped

                """)
    }

    @Test func aLongEventIsCut() throws {
        let e = try engine(
            #"function on_record(r) encharge.track("t", { userId = "u" }, { text = string.rep("a", 5000) }) end"#)
        let lines = try block(e, "{}").split(separator: "\n")
        try #require(lines.count == 3)
        #expect(lines[1].hasPrefix(#"  rules.lua:1  track "t" {"user":{"userId":"u"},"properties":{"text":"aaa"#))
        #expect(lines[1].hasSuffix(" bytes more)"), "\(lines[1].suffix(40))")
        #expect(lines[1].utf8.count < TraceBlock.maxEventBytes + 64)
    }

    @Test(arguments: [
        ("rules.lua:14: track: user needs email or userId", "rules.lua:14", "track: user needs email or userId"),
        ("helpers.lua:3: boom", "helpers.lua:3", "boom"),
        ("memory limit of 64 MiB exceeded", nil, "memory limit of 64 MiB exceeded"),
        ("rules.lua: no on_record function", nil, "rules.lua: no on_record function"),
        ("plan: pro: missing", nil, "plan: pro: missing"),
    ])
    func aFailureMessageGivesUpItsRuleLine(message: String, ruleLine: String?, text: String) {
        let entry = RuleTrace.Entry(failure: message, traceback: nil)
        #expect(entry == RuleTrace.Entry(ruleLine: ruleLine, kind: .error(message: text, traceback: nil)))
    }

    @Test func eachCallTakesOnlyItsOwnEntries() throws {
        let e = try engine(Self.signup)
        _ = try block(e, #"{"email":"ada@example.com"}"#)
        #expect(try block(e, #"{}"#).split(separator: "\n").count == 4)
    }

    @Test func withoutATraceNothingIsRecordedAndLogLinesPrint() throws {
        let log = OutputBuffer()
        var options = RuleOptions(rulesPath: "rules.lua")
        options.source = Array(Self.signup.utf8)
        options.logWriter = log
        let e = try RuleEngine(options: options)
        _ = e.map(value: .object(JSONObject([("email", .string("ada@example.com"))])), source: "in.jsonl:1")
        #expect(e.trace == nil)
        #expect(
            log.lines == [
                "in.jsonl:1: info: looking up plan (rules.lua:6)",
                "in.jsonl:1: info: identified ada@example.com (rules.lua:11)",
            ])
    }

    @Test func webhookCallsAreTracedWithTheirErrors() throws {
        let e = try engine(
            """
            routes = {
              ["POST /stripe"] = function(req)
                log.info("event", req.json.type)
                encharge.identify{ email = req.json.email }
                return 202
              end,
              ["POST /fail"] = function(req)
                webhook.verify("stripe", req, "whsec_x")
              end,
            }
            """)
        let request = { (path: String) in
            WebhookRequest(
                id: "req_1", method: "POST", path: path, query: [], headers: [("content-type", "application/json")],
                body: Array(#"{"type":"customer.created","email":"ada@example.com"}"#.utf8), remoteIP: nil)
        }
        guard case .handled(let events, _) = e.handleWebhook(request("/stripe")) else {
            Issue.record("expected the request handled")
            return
        }
        #expect(events.count == 1)
        #expect(
            TraceBlock.render(header: "POST /stripe req_1", entries: e.trace!.take(), outcome: "202, 1 event") == """
                trace POST /stripe req_1
                  rules.lua:3  info: event customer.created
                  rules.lua:4  identify {"email":"ada@example.com"}
                  outcome: 202, 1 event

                """)
        guard case .unauthorized = e.handleWebhook(request("/fail")) else {
            Issue.record("expected a failed verification")
            return
        }
        let entries = e.trace!.take()
        try #require(entries.count == 1)
        #expect(entries[0].ruleLine == "rules.lua:8")
        guard case .error(let message, _) = entries[0].kind else {
            Issue.record("expected an error entry, got \(entries[0])")
            return
        }
        #expect(message.hasPrefix("webhook.verify: "), "\(message)")
    }
}
