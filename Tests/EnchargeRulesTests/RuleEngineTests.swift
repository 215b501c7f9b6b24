import EnchargeKit
import Foundation
import JSONKit
import SystemKit
import Testing

@testable import EnchargeRules

/// The rule engine in-process: emission, skip, failures, settings, iso8601, webhooks.
@Suite struct RuleEngineTests {
    func engine(_ source: String, settings: JSONObject = JSONObject()) throws -> RuleEngine {
        let path = NSTemporaryDirectory() + "rules-\(UUID().uuidString).lua"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        return try RuleEngine(options: RuleOptions(rulesPath: path, settings: settings))
    }

    func map(_ engine: RuleEngine, _ json: String) -> RecordOutcome {
        var bytes = Array(json.utf8)
        return bytes.withUnsafeMutableBytes { engine.map(json: UnsafeRawBufferPointer($0), source: "in.jsonl:1") }
    }

    @Test func eventsComeOutInEmissionOrderAndValidated() throws {
        let e = try engine(
            """
            function on_record(r, ctx)
              encharge.identify{ email = r.email, userId = r.id, tags = r.tags }
              encharge.track("Signed up", { email = r.email }, { plan = r.plan, source = ctx.source })
              encharge.event{ name = "Raw", user = { userId = "x" }, sourceIp = "192.0.2.1" }
            end
            """)
        guard case .mapped(let events) = map(e, #"{"email":"A@x.io","id":7,"tags":["a","b"],"plan":"pro"}"#) else {
            Issue.record("expected events")
            return
        }
        #expect(
            events.map { String(decoding: $0.wireJSON(), as: UTF8.self) } == [
                #"{"name":"identify","user":{"email":"A@x.io","tags":"a, b","userId":"7"}}"#,
                #"{"name":"Signed up","user":{"email":"A@x.io"},"properties":{"plan":"pro","source":"in.jsonl:1"}}"#,
                #"{"name":"Raw","user":{"userId":"x"},"sourceIp":"192.0.2.1"}"#,
            ])
        #expect(events[1].identityKey == "a@x.io")
    }

    @Test func skipDropsTheRecordsEvents() throws {
        let e = try engine(
            #"function on_record(r) encharge.identify{ email = "a@x.io" } return encharge.skip("not yet") end"#)
        guard case .skipped(let reason) = map(e, "{}") else {
            Issue.record("expected a skip")
            return
        }
        #expect(reason == "not yet")
    }

    @Test(arguments: [
        (#"encharge.track("x", { firstName = "n" })"#, "track: user needs email or userId"),
        (#"encharge.track("x", { email = "nope" })"#, "track: user.email: 'nope' does not look like an email address"),
        (#"encharge.track("", { email = "a@x.io" })"#, "track: name: must not be empty"),
        (
            #"encharge.track("x", { email = "a@x.io" }, { f = print })"#,
            "track: properties.f: a function value cannot be sent as JSON"
        ),
        (
            #"encharge.track("x", { email = "a@x.io" }, nil, { sourceIP = "1.2.3.4" })"#,
            "track: unknown option 'sourceIP' (the only option is sourceIp)"
        ),
        (#"encharge.identify("a@x.io")"#, "identify: expected a user table like { email = ... }, got string"),
        (
            #"encharge.event{ name = "x", user = { email = "a@x.io" }, propreties = {} }"#,
            "event: unknown key 'propreties' (did you mean 'properties'?)"
        ),
        (
            #"encharge.iso8601("yesterday")"#,
            "iso8601: cannot read 'yesterday' as a date (give epoch seconds, epoch milliseconds or an ISO 8601 string like 2020-03-06T14:24:03Z, or pass a format)"
        ),
    ])
    func invalidEventsFailTheRecordAtTheirLine(call: String, message: String) throws {
        let e = try engine("function on_record(r)\n  \(call)\nend")
        guard case .failed(let text, let traceback) = map(e, "{}") else {
            Issue.record("expected a failure")
            return
        }
        #expect(text.hasSuffix(".lua:2: " + message), "\(text)")
        #expect(traceback?.contains("in function 'on_record'") == true)
    }

    @Test func aFailedRecordDoesNotLeakEventsIntoTheNext() throws {
        let e = try engine(
            """
            function on_record(r)
              encharge.identify{ email = "a@x.io" }
              if r.fail then error("no") end
            end
            """)
        guard case .failed = map(e, #"{"fail":true}"#) else { Issue.record("expected a failure"); return }
        guard case .mapped(let events) = map(e, "{}") else { Issue.record("expected events"); return }
        #expect(events.count == 1)
    }

    @Test func settingsAndIso8601() throws {
        let e = try engine(
            """
            function on_record(r)
              encharge.track("t", { email = "a@x.io" }, {
                plan = encharge.settings.plan,
                s = encharge.iso8601(1583504643), ms = encharge.iso8601(1583504643522),
                iso = encharge.iso8601("2020-03-06 15:24:03+01:00"), none = encharge.iso8601(nil) })
            end
            """, settings: JSONObject([("plan", .string("gold"))]))
        guard case .mapped(let events) = map(e, "{}") else { Issue.record("expected events"); return }
        #expect(
            events[0].properties
                == JSONObject([
                    ("plan", "gold"), ("s", "2020-03-06T14:24:03Z"), ("ms", "2020-03-06T14:24:03.522Z"),
                    ("iso", "2020-03-06T14:24:03Z"),
                ]))
    }

    @Test func nullMembersPassThroughToProperties() throws {
        let e = try engine(#"function on_record(r) encharge.track("t", { email = r.email }, r.meta) end"#)
        guard case .mapped(let events) = map(e, #"{"email":"a@x.io","meta":{"a":null,"b":[null,1],"c":{}}}"#) else {
            Issue.record("expected events")
            return
        }
        #expect(
            String(decoding: events[0].wireJSON(), as: UTF8.self)
                == #"{"name":"t","user":{"email":"a@x.io"},"properties":{"a":null,"b":[null,1],"c":{}}}"#)
    }

    @Test func webhookRoutesResponsesAndRequestTable() throws {
        let e = try engine(
            """
            routes = {
              ["POST /hook"] = function(req)
                encharge.track("Hook", { email = req.json.email }, {
                  q = req.query.tag, h = req.headers["x-thing"], form = req.form, id = req.id })
                return { status = 200, body = { ok = true } }
              end,
            }
            """)
        let request = WebhookRequest(
            id: "req_1", method: "POST", path: "/hook", query: [("tag", "a"), ("tag", "b")],
            headers: [("content-type", "application/json"), ("x-thing", "1"), ("x-thing", "2")],
            body: Array(#"{"email":"a@x.io"}"#.utf8), remoteIP: "127.0.0.1")
        guard case .handled(let events, let response) = e.handleWebhook(request) else {
            Issue.record("expected a handled request")
            return
        }
        #expect(
            String(decoding: events[0].wireJSON(), as: UTF8.self)
                == #"{"name":"Hook","user":{"email":"a@x.io"},"properties":{"h":"1, 2","id":"req_1","q":["a","b"]}}"#)
        #expect(response?.status == 200)
        #expect(response.map { String(decoding: $0.body, as: UTF8.self) } == #"{"ok":true}"#)
        var other = request
        other.path = "/nope"
        guard case .notFound = e.handleWebhook(other) else { Issue.record("expected 404"); return }
    }

    @Test func failedWebhookVerifyIsUnauthorized() throws {
        let e = try engine(
            #"function on_webhook(req) webhook.verify("github", req, "secret") encharge.identify{ email = "a@x.io" } end"#
        )
        let request = WebhookRequest(
            id: "r", method: "POST", path: "/", query: [], headers: [("x-hub-signature-256", "sha256=00")],
            body: Array("{}".utf8), remoteIP: nil)
        guard case .unauthorized = e.handleWebhook(request) else { Issue.record("expected 401"); return }
    }

    @Test func keptRequestsRoundTripThroughJSON() throws {
        let request = WebhookRequest(
            id: "r", method: "POST", path: "/x", query: [("a", "1")], headers: [("h", "v")], body: [0, 255, 10],
            remoteIP: "::1")
        let back = try #require(WebhookRequest(json: request.jsonValue))
        #expect(
            back.body == [0, 255, 10] && back.path == "/x" && back.remoteIP == "::1" && back.headers.first?.1 == "v")
    }

    @Test func logLinesGoToTheWriterInTheOptionsWithTheRecordAndRuleLine() throws {
        let path = NSTemporaryDirectory() + "rules-\(UUID().uuidString).lua"
        try "function on_record(r)\n  log.warn('odd', r.n, { a = 1 })\n  print('p')\n  log.debug('hidden')\nend\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = OutputBuffer()
        var options = RuleOptions(rulesPath: path)
        options.logWriter = log
        let engine = try RuleEngine(options: options)
        guard case .mapped = map(engine, #"{"n":7}"#) else {
            Issue.record("the record did not map")
            return
        }
        // The rule line ends each line; Lua may shorten a long temporary path in it.
        let lines = log.lines
        try #require(lines.count == 2, "\(lines)")
        #expect(lines[0].hasPrefix("in.jsonl:1: warning: odd 7 {\"a\":1} ("), "\(lines[0])")
        #expect(lines[0].hasSuffix(".lua:2)"), "\(lines[0])")
        #expect(lines[1].hasPrefix("in.jsonl:1: info: p ("), "\(lines[1])")
        #expect(lines[1].hasSuffix(".lua:3)"), "\(lines[1])")
    }
}
