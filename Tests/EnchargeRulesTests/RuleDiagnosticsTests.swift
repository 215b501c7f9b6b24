import EnchargeKit
import Foundation
import JSONKit
import Testing

@testable import EnchargeRules

/// What the engine says about odd rules (issue 7): counted run warnings, names that do not
/// exist, removed sandbox functions, what `check` finds by reading the source.
extension RuleEngineTests {
    func wire(_ outcome: RecordOutcome) -> [String] {
        guard case .mapped(let events) = outcome else { return ["not mapped: \(outcome)"] }
        return events.map { String(decoding: $0.wireJSON(), as: UTF8.self) }
    }

    @Test func oddButAcceptableValuesAreSentAndCountedOncePerKind() throws {
        let e = try engine(
            """
            function on_record(r, ctx)
              local tags = {}
              if r.tag then tags[#tags + 1] = r.tag end
              encharge.identify{ email = r.email, userId = r.n * 1.0, tags = tags, ip = r.ip, userid = "x" }
            end
            """)
        #expect(
            wire(map(e, #"{"email":"","n":123,"tag":"partner, reseller","ip":"10.0.0.1:443"}"#)) == [
                #"{"name":"identify","user":{"tags":"partner, reseller","userId":"123","userid":"x"}}"#
            ])
        #expect(
            wire(map(e, #"{"email":" ann@x.io ","n":7,"ip":""}"#)) == [
                #"{"name":"identify","user":{"email":"ann@x.io","userId":"7","userid":"x"}}"#
            ])
        #expect(
            wire(map(e, #"{"n":8,"tag":"a,b"}"#)) == [
                #"{"name":"identify","user":{"tags":"a,b","userId":"8","userid":"x"}}"#
            ])
        let path = e.options.rulesPath
        #expect(
            e.warningLines() == [
                "warning: 1 user.ip value was not an IP address and left out of the event (first '10.0.0.1:443' at \(path):4, record in.jsonl:1); give one address, for example encharge.client_ip(req)",
                "warning: 2 tags contained a comma; Encharge splits tags at commas (first: \(path):4, record in.jsonl:1)",
                "warning: 3 events sent 'userid' as a custom field; the Encharge field is spelt 'userId' (first: \(path):4, record in.jsonl:1)",
            ])
        var merged = e.takeRunWarnings()
        #expect(e.warningLines().isEmpty)
        merged.merge(merged)
        #expect(merged.lines().contains { $0.hasPrefix("warning: 4 tags contained a comma") })
    }

    @Test func aFloatIdThatIsNotIntegralFailsSayingFloat() throws {
        let e = try engine("function on_record(r)\n  encharge.identify{ userId = r.n / 2 }\nend")
        guard case .failed(let message, _) = map(e, #"{"n":3}"#) else { Issue.record("expected a failure"); return }
        #expect(
            message.hasSuffix(
                ":2: identify: user.userId: expected a string or an integer, got the float 1.5; pass a string or math.tointeger(x)"
            ))
    }

    @Test func returningATableFromOnRecordIsWarnedOnce() throws {
        let e = try engine(
            """
            -- a Segment-style rule
            function on_record(r)
              return { type = "identify", userId = r.id }
            end
            """)
        #expect(wire(map(e, #"{"id":"1"}"#)) == [])
        #expect(wire(map(e, #"{"id":"2"}"#)) == [])
        #expect(
            e.warningLines() == [
                "warning: on_record's return value is ignored; emit events with encharge.event(t) (on_record at \(e.options.rulesPath):2 returned a value for 2 records, first in.jsonl:1)"
            ])
    }

    @Test func returningNothingOrASkipIsNotWarned() throws {
        let e = try engine(
            #"function on_record(r) if r.x then return encharge.skip("x") end return encharge.identify{ userId = "1" } end"#
        )
        _ = map(e, #"{"x":true}"#)
        _ = map(e, "{}")
        #expect(e.warningLines().isEmpty)
    }

    @Test(arguments: [
        ("encharge.identfy{ email = 'a@x.io' }", "encharge.identfy does not exist; did you mean encharge.identify?"),
        ("json.decod('{}')", "json.decod does not exist; did you mean json.decode?"),
        ("log.warning('x')", "log.warning does not exist; did you mean log.warn?"),
        ("webhook.verfy('stripe', {}, 's')", "webhook.verfy does not exist; did you mean webhook.verify?"),
        (
            "encharge.zzz()",
            "encharge.zzz does not exist (there are encharge.client_ip, encharge.event, encharge.identify, encharge.iso8601, encharge.settings, encharge.skip, encharge.track)"
        ),
        ("io.open('x')", "io is not available in rules (sandbox)"),
        ("os.execute('ls')", "os.execute is not available in rules (sandbox)"),
        ("os.exit(1)", "os.exit is not available in rules (sandbox)"),
        ("debug.traceback()", "debug is not available in rules (sandbox)"),
        ("dofile('x.lua')", "dofile is not available in rules (sandbox)"),
        ("loadfile('x.lua')", "loadfile is not available in rules (sandbox)"),
        ("package.loadlib('x', 'y')", "package is not available in rules (sandbox)"),
    ])
    func unknownNamesFailAtTheCallersLine(call: String, message: String) throws {
        let e = try engine("function on_record(r)\n  \(call)\nend")
        guard case .failed(let text, _) = map(e, "{}") else { Issue.record("expected a failure"); return }
        #expect(text == "\(e.options.rulesPath):2: \(message)")
    }

    @Test func knownNamesAndOtherMissingGlobalsStillWork() throws {
        let e = try engine(
            """
            function encharge.helper() return "u-1" end
            function on_record(r)
              if undefined_global == nil and os.time() > 0 and json.null then
                encharge.identify{ userId = encharge.helper(), plan = encharge.settings.plan }
              end
            end
            """)
        #expect(wire(map(e, "{}")) == [#"{"name":"identify","user":{"userId":"u-1"}}"#])
    }

    @Test(
        arguments: [
            ([("x-forwarded-for", "203.0.113.7:5123, 10.0.0.1")], "10.1.1.1", "203.0.113.7"),
            ([("x-forwarded-for", "unknown")], "10.1.1.1", "10.1.1.1"),
            ([], "::1", "::1"),
            ([], nil, nil),
        ] as [([(String, String)], String?, String?)])
    func clientIPPrefersForwardedForThenThePeer(headers: [(String, String)], peer: String?, expected: String?) throws {
        let e = try engine(
            """
            function on_webhook(req)
              encharge.track("Hit", { userId = "1" }, { ip = encharge.client_ip(req) or "none" }, { sourceIp = encharge.client_ip(req) })
            end
            """)
        let request = WebhookRequest(
            id: "r", method: "POST", path: "/", query: [], headers: headers, body: Array("{}".utf8), remoteIP: peer)
        guard case .handled(let events, _) = e.handleWebhook(request) else { Issue.record("expected events"); return }
        #expect(events.first?.properties?["ip"] == .string(expected ?? "none"))
        #expect(events.first?.sourceIp == expected)
    }

    @Test func iso8601ReadsAFormatInANamedZone() throws {
        let e = try engine(
            """
            function on_record(r)
              encharge.track("t", { userId = "1" }, {
                winter = encharge.iso8601(r.winter, { format = "%m/%d/%Y %H:%M", tz = "Europe/Berlin" }),
                summer = encharge.iso8601(r.summer, { format = "%m/%d/%Y %H:%M", tz = "Europe/Berlin" }),
                naive = encharge.iso8601("2020-03-06 14:24"),
                zoned = encharge.iso8601("2020-03-06 14:24", { tz = "America/New_York" }),
                stated = encharge.iso8601("2020-03-06T14:24:00Z", { tz = "Asia/Tokyo" }),
                us = encharge.iso8601("Mar 6, 2020 2:24:03 PM", { format = "%b %d, %Y %I:%M:%S %p" }) })
            end
            """)
        guard case .mapped(let events) = map(e, #"{"winter":"03/06/2020 14:24","summer":"7/1/2020 12:00"}"#) else {
            Issue.record("expected events")
            return
        }
        #expect(
            events[0].properties
                == JSONObject([
                    ("winter", "2020-03-06T13:24:00Z"), ("summer", "2020-07-01T10:00:00Z"),
                    ("naive", "2020-03-06T14:24:00Z"),
                    ("zoned", "2020-03-06T19:24:00Z"), ("stated", "2020-03-06T14:24:00Z"),
                    ("us", "2020-03-06T14:24:03Z"),
                ]))
    }

    @Test(arguments: [
        (
            #"encharge.iso8601("03/06/2020", { tz = "Europe/Berln" })"#,
            "iso8601: unknown time zone 'Europe/Berln': /usr/share/zoneinfo/Europe/Berln does not exist (use a tz database name like Europe/Berlin; install the tzdata package if none exist)"
        ),
        (
            #"encharge.iso8601("x", { tz = "../etc/passwd" })"#,
            "iso8601: '../etc/passwd' is not a time zone name (use one like Europe/Berlin, or +02:00)"
        ),
        (
            #"encharge.iso8601("2020-13-01", { format = "%Y-%m-%d" })"#,
            "iso8601: '2020-13-01' does not match the format '%Y-%m-%d'"
        ),
        (
            #"encharge.iso8601("2020-02-30", { format = "%Y-%m-%d" })"#,
            "iso8601: '2020-02-30' is not a date: month 2 of 2020 has no day 30"
        ),
        (
            #"encharge.iso8601("2020", { format = "%Q" })"#,
            "iso8601: the format '%Q' has %Q, which encharge.iso8601 does not read (it reads %Y %y %m %d %e %H %I %M %S %f %p %b %B %h %a %A %z %Z %j %T %F %D %%)"
        ),
        (#"encharge.iso8601("2020", { fmt = "%Y" })"#, "iso8601: unknown option 'fmt' (the options are format and tz)"),
    ])
    func iso8601OptionErrorsSayWhatIsWrong(call: String, message: String) throws {
        let e = try engine("function on_record(r)\n  \(call)\nend")
        guard case .failed(let text, _) = map(e, "{}") else { Issue.record("expected a failure"); return }
        #expect(text == "\(e.options.rulesPath):2: \(message)")
    }

    // MARK: - Reading the source (check without --input)

    func sourceProblems(_ source: String) throws -> [String] {
        let e = try engine(source)
        let prefix = e.options.rulesPath + ":"
        return e.sourceProblems().map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : $0 }
    }

    @Test func sourceReadingFindsUnknownFieldsAndRemovedFunctions() throws {
        let problems = try sourceProblems(
            """
            -- encharge.nothere in a comment
            local s = "encharge.identfy in a string" .. 'json.x' .. [==[ io.open ]==]
            --[[ os.execute("rm") ]]
            function on_record(r, ctx)
              encharge.identfy{ email = r.email }
              local f = io.open("x")
              os.execute("ls"); os.time()
              if r.x then dofile("y") end
              encharge.helper(1)
              local t = { io = 1, json = 2 }
              t.io = 3
              package.loadlib("a", "b")
              return json.decod(r.x)
            end
            function encharge.helper(x) return x end
            """)
        #expect(
            problems == [
                "5: error: encharge.identfy does not exist; did you mean encharge.identify?",
                "6: error: io.open is not available in rules (sandbox)",
                "7: error: os.execute is not available in rules (sandbox)",
                "8: error: dofile is not available in rules (sandbox)",
                "12: error: package.loadlib is not available in rules (sandbox)",
                "13: error: json.decod does not exist; did you mean json.decode?",
            ])
    }

    @Test func sourceReadingRespectsLocalsThatShadowAModule() throws {
        let problems = try sourceProblems(
            """
            local function helper(log) return log.anything end
            function on_record(r)
              for _, json in ipairs(r.list or {}) do local x = json.whatever end
              do local encharge = { x = 1 }; local y = encharge.x end
              local log = { line = 1 }
              local z = log.line
              encharge.identify{ userId = "1" }
            end
            function later() return log.nope end
            """)
        #expect(problems == ["9: error: log.nope does not exist (there are log.debug, log.error, log.info, log.warn)"])
    }

    @Test func sourceReadingAcceptsAModuleTheRuleReplaces() throws {
        #expect(try sourceProblems("json = { custom = true }\nfunction on_record(r) return json.custom end").isEmpty)
    }
}
