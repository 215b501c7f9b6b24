import EnchargeKit
import JSONKit
import SystemKit
import Testing

@testable import EnchargeRules

/// `RuleOptions.fixedNow`: the rule reads a fixed instant wherever it asks for the current time,
/// and only there.
@Suite struct FixedClockTests {
    /// 2001-09-09T01:46:40Z: far from the real clock, so the tests cannot pass by reading it.
    static let now: Int64 = 1_000_000_000

    /// An engine for `source` (the rules text, named `rules.lua`), on the fixed clock when `now` is given.
    func engine(_ source: String, now: Int64?) throws -> RuleEngine {
        var options = RuleOptions(rulesPath: "rules.lua")
        options.source = Array(source.utf8)
        options.fixedNow = now
        return try RuleEngine(options: options)
    }

    /// The properties of the one `track` event `on_record` emits for an empty record, as JSON.
    func properties(_ engine: RuleEngine) throws -> String {
        let outcome = engine.map(value: .object(JSONObject()), source: "in.jsonl:1")
        guard case .mapped(let events) = outcome, events.count == 1 else {
            Issue.record("expected one event, got \(outcome)")
            return ""
        }
        return JSONValue.object(try #require(events[0].properties)).encoded()
    }

    @Test func osTimeAndOsDateWithoutATimeReadTheFixedInstant() throws {
        let e = try engine(
            """
            function on_record(r)
              encharge.track("t", { userId = "u" }, {
                time = os.time(), explicitNil = os.time(nil),
                date = os.date("!%Y-%m-%dT%H:%M:%SZ"), nilTime = os.date("!%H:%M", nil),
                year = os.date("!*t").year, iso = encharge.iso8601(os.time()),
                default = os.date() == os.date("%c", \(Self.now)),
              })
            end
            """, now: Self.now)
        #expect(
            try properties(e)
                == #"{"date":"2001-09-09T01:46:40Z","default":true,"explicitNil":1000000000,"iso":"2001-09-09T01:46:40Z","nilTime":"01:46","time":1000000000,"year":2001}"#
        )
    }

    @Test func anExplicitTimeOrTableIsConvertedAsBefore() throws {
        let source = """
            function on_record(r)
              encharge.track("t", { userId = "u" }, {
                date = os.date("!%Y-%m-%d %H:%M:%S", 0),
                table = os.time{ year = 2000, month = 1, day = 1, hour = 12 },
                diff = os.difftime(os.time{ year = 2000, month = 1, day = 2, hour = 12 },
                                   os.time{ year = 2000, month = 1, day = 1, hour = 12 }),
              })
            end
            """
        let fixed = try properties(engine(source, now: Self.now))
        #expect(fixed == (try properties(engine(source, now: nil))))
        #expect(fixed.hasPrefix(#"{"date":"1970-01-01 00:00:00","diff":86400.0,"table":"#), "\(fixed)")
    }

    @Test func withoutAFixedInstantTheRuleReadsTheSystemClock() throws {
        let e = try engine(
            #"function on_record(r) encharge.track("t", { userId = "u" }, { time = os.time() }) end"#, now: nil)
        let before = Int64(SystemClock.wallSeconds())
        let text = try properties(e)
        let time = try #require(Int64(text.dropFirst(#"{"time":"#.count).dropLast()))
        #expect(time >= before && time <= before + 60, "\(text)")
    }

    @Test func argumentErrorsStillNameTheFunction() throws {
        let e = try engine("function on_record(r) os.date('%Q') end", now: Self.now)
        guard case .failed(let message, _) = e.map(value: .object(JSONObject()), source: "in.jsonl:1") else {
            Issue.record("expected a failure")
            return
        }
        #expect(message.contains("bad argument #1 to 'date' (invalid conversion specifier '%Q')"), "\(message)")
    }

    /// A Stripe signature made at the fixed instant verifies; the timestamp check reads the same clock.
    @Test func webhookVerifyChecksTimestampsAgainstTheFixedInstant() throws {
        let source = """
            function on_record(r)
              local body, secret, at = "{}", "whsec_test", r.at
              local signature = crypto.hmac_sha256(secret, at .. "." .. body)
              local req = { headers = { ["stripe-signature"] = "t=" .. at .. ",v1=" .. signature }, body = body }
              webhook.verify("stripe", req, secret)
              encharge.track("t", { userId = "u" }, { verified = true })
            end
            """
        let fixed = try engine(source, now: Self.now)
        let record = JSONValue.object(JSONObject([("at", .integer(Self.now))]))
        guard case .mapped = fixed.map(value: record, source: "in.jsonl:1") else {
            Issue.record("a signature made at the fixed instant did not verify")
            return
        }
        guard case .failed(let message, _) = try engine(source, now: nil).map(value: record, source: "in.jsonl:1")
        else {
            Issue.record("the real clock accepted a timestamp of 2001")
            return
        }
        #expect(message.contains("webhook.verify:"), "\(message)")
    }
}
