import JSONKit
import Testing

@testable import EnchargeCommands

/// The fixture format: what a fixture file loads to, each way it can be malformed (one sentence
/// naming the file and the JSON path), and the text `--update` writes.
@Suite struct FixtureTests {
    static func load(_ text: String, file: String = "fixtures/f.json") throws(FixtureError) -> Fixture {
        try Fixture(file: file, text: Array(text.utf8), signedAt: 1_764_504_000)
    }

    @Test func aRecordFixtureLoadsItsRecordSettingsClockAndEvents() throws {
        let fixture = try Self.load(
            #"""
            {"record": {"id": 12345678901234567890, "n": 10, "x": 1.0}, "settings": {"plan": "pro"},
             "now": "2026-11-30T12:00:00Z", "events": [{"name": "identify", "user": {"userId": "1"}}]}
            """#)
        guard case .record(let record) = fixture.input else {
            Issue.record("not a record fixture")
            return
        }
        #expect(record == ["id": .bigInteger("12345678901234567890"), "n": 10, "x": 1.0])
        #expect(fixture.source == "f.json")
        #expect(fixture.settings == JSONObject([("plan", "pro")]))
        #expect(fixture.now == 1_796_040_000)
        #expect(fixture.expectation == FixtureOutcome(.events([["name": "identify", "user": ["userId": "1"]]])))
        #expect(try Self.load(#"{"record": {}, "now": 1764504000, "skip": "x", "source": "s:1"}"#).source == "s:1")
    }

    @Test func aWebhookFixtureBuildsTheRequestServeWouldReceive() throws {
        let json = try Self.load(
            #"""
            {"webhook": {"path": "/stripe", "headers": {"X-Trace": "1"}, "query": {"a": "1", "b": ["2", "3"]},
                         "json": {"b": 1, "a": [true, null]}},
             "status": 202, "events": []}
            """#)
        guard case .webhook(let request) = json.input else {
            Issue.record("not a webhook fixture")
            return
        }
        #expect(request.method == "POST")
        #expect(request.path == "/stripe")
        #expect(request.headers.map { "\($0.0)=\($0.1)" } == ["x-trace=1", "content-type=application/json"])
        #expect(request.query.map { "\($0.0)=\($0.1)" } == ["a=1", "b=2", "b=3"])
        #expect(String(decoding: request.body, as: UTF8.self) == #"{"a":[true,null],"b":1}"#)
        #expect(json.expectation == FixtureOutcome(.events([]), status: 202))

        let form = try Self.load(
            #"""
            {"webhook": {"method": "PUT", "path": "/form", "headers": {"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
                         "form": {"name": "Ada Lovelace", "note": "50% & more=é"}}, "status": 200, "skip": ""}
            """#)
        guard case .webhook(let formRequest) = form.input else { return }
        #expect(String(decoding: formRequest.body, as: UTF8.self) == "name=Ada+Lovelace&note=50%25+%26+more%3D%C3%A9")
        #expect(formRequest.headers.count == 1, "the fixture's own content type is kept")

        let raw = try Self.load(
            #"{"webhook": {"method": "GET", "path": "/ping", "body": "a b"}, "status": 204, "events": []}"#)
        guard case .webhook(let rawRequest) = raw.input else { return }
        #expect(rawRequest.body == Array("a b".utf8))
        #expect(rawRequest.headers.isEmpty)
    }

    @Test func signAddsTheSchemesHeadersOverTheBodySent() throws {
        let fixture = try Self.load(
            #"""
            {"webhook": {"path": "/h", "headers": {"x-acme-mac": "stale"}, "body": "{}"},
             "sign": {"scheme": "hmac", "secret": "s3cret", "header": "X-Acme-Mac"}, "status": 202, "events": []}
            """#)
        guard case .webhook(let request) = fixture.input else { return }
        // HMAC-SHA256("s3cret", "{}"), computed with openssl dgst -sha256 -hmac s3cret.
        #expect(
            request.headers.map { "\($0.0)=\($0.1)" } == [
                "x-acme-mac=adbde1ce40c89c14215687d5d762a47df6dfaefcfad61e2e86718ffc8498571b"
            ])
    }

    @Test func signingUsesTheFixturesClockWhenItHasOne() throws {
        func stripeHeader(_ members: String) throws -> String? {
            let fixture = try Self.load(
                #"{"webhook": {"path": "/s", "body": "{}"}, "sign": {"scheme": "stripe", "secret": "whsec_x"}, "#
                    + members + #""status": 202, "events": []}"#)
            guard case .webhook(let request) = fixture.input else { return nil }
            return request.header("stripe-signature")
        }
        #expect(try stripeHeader(#""now": "2026-01-01T00:00:00Z", "#)?.hasPrefix("t=1767225600,v1=") == true)
        #expect(try stripeHeader("")?.hasPrefix("t=1764504000,v1=") == true, "else the time the run gives")
    }

    /// Each malformed fixture and the one sentence that says where and what.
    static let malformed: [(String, String)] = [
        ("[1]", "fixtures/f.json: $ must be an object; it is an array"),
        (
            "{\"record\": {}",
            "fixtures/f.json: is not valid JSON (invalid JSON at byte 13: unexpected end of input inside an object); fix the file"
        ),
        (
            #"{"skip": "x"}"#,
            #"fixtures/f.json: $ has no input; add "record": {...} for on_record or "webhook": {...} for on_webhook and routes"#
        ),
        (
            #"{"record": {}, "webhook": {"path": "/"}, "skip": "x"}"#,
            #"fixtures/f.json: $ has both "record" and "webhook"; a fixture holds one input, so split it in two files"#
        ),
        (
            #"{"record": {}, "event": []}"#,
            #"fixtures/f.json: $.event is not a member of a fixture (did you mean "events"?)"#
        ),
        (
            #"{"record": {}, "expect": []}"#,
            "fixtures/f.json: $.expect is not a member of a fixture; a fixture holds an input (record or webhook), optionally source, settings, now and sign, and an expectation (events, skip or error; for a webhook also status and response)"
        ),
        (#"{"record": [], "skip": "x"}"#, "fixtures/f.json: $.record must be an object; it is an array"),
        (#"{"record": {}, "record": {}, "skip": "x"}"#, #"fixtures/f.json: $ has the member "record" twice; keep one"#),
        (
            #"{"record": {}, "events": [], "skip": "x"}"#,
            #"fixtures/f.json: $ has both "events" and "skip"; a fixture expects one of events, skip or error"#
        ),
        (
            #"{"record": {}, "events": [1]}"#,
            "fixtures/f.json: $.events[0] must be an object (an event as run --dry-run prints it); it is an integer"
        ),
        (#"{"record": {}, "events": {}}"#, "fixtures/f.json: $.events must be a list of events; it is an object"),
        (
            #"{"record": {}, "events": [{"name": 5}]}"#,
            "fixtures/f.json: $.events[0].name cannot match any event the rule emits: expected a string, got an integer; write the event as run --dry-run prints it"
        ),
        (
            #"{"record": {}, "events": [{"name": "identify", "user": {"email": "a@x.io"}}, {"name": "Paid"}]}"#,
            "fixtures/f.json: $.events[1] cannot match any event the rule emits: event needs a user with email or userId; write the event as run --dry-run prints it"
        ),
        (
            #"{"record": {}, "events": [{"name": "x", "user": {"email": "a@x.io", "tags": ["a", 2]}}]}"#,
            "fixtures/f.json: $.events[0].user.tags[1] cannot match any event the rule emits: expected a string, got an integer; write the event as run --dry-run prints it"
        ),
        (
            #"{"record": {}, "events": [{"name": "x", "user": {"userId": "1"}, "traits": {}}]}"#,
            "fixtures/f.json: $.events[0] cannot match any event the rule emits: unknown key 'traits' (did you mean 'user'?); write the event as run --dry-run prints it"
        ),
        (#"{"record": {}, "skip": 1}"#, "fixtures/f.json: $.skip must be a string; it is an integer"),
        (
            #"{"record": {}, "error": "x", "status": 500}"#,
            "fixtures/f.json: $.status applies only to webhook fixtures; remove it or give a \"webhook\" input"
        ),
        (
            #"{"record": {}, "skip": "x", "sign": {}}"#,
            "fixtures/f.json: $.sign applies only to webhook fixtures; remove it or give a \"webhook\" input"
        ),
        (
            #"{"record": {}, "skip": "x", "settings": []}"#,
            "fixtures/f.json: $.settings must be an object; it is an array"
        ),
        (
            #"{"record": {}, "skip": "x", "now": "yesterday"}"#,
            #"fixtures/f.json: $.now "yesterday" is not a date; give an ISO 8601 date such as "2026-11-30T12:00:00Z" or whole seconds since 1970"#
        ),
        (
            #"{"record": {}, "skip": "x", "now": 1.5}"#,
            #"fixtures/f.json: $.now must be an ISO 8601 date such as "2026-11-30T12:00:00Z" or whole seconds since 1970; it is a number"#
        ),
        (
            #"{"webhook": {"path": "/"}, "status": 202}"#,
            #"fixtures/f.json: $ has "status" but no "events", "skip" or "error"; add the outcome it expects"#
        ),
        (
            #"{"webhook": {"path": "/"}, "events": []}"#,
            #"fixtures/f.json: $ has no "status"; a webhook fixture expects the status serve answers, such as 202"#
        ),
        (
            #"{"webhook": {"path": "/"}, "events": [], "status": "202"}"#,
            "fixtures/f.json: $.status must be an HTTP status from 100 to 599; it is a string"
        ),
        (
            #"{"webhook": {"path": "/"}, "events": [], "status": 700}"#,
            "fixtures/f.json: $.status must be an HTTP status from 100 to 599, not 700"
        ),
        (
            #"{"webhook": {"path": "/"}, "source": "x", "events": [], "status": 202}"#,
            "fixtures/f.json: $.source applies only to record fixtures (a request is its own source); remove it"
        ),
        (
            #"{"webhook": {}, "events": [], "status": 202}"#,
            #"fixtures/f.json: $.webhook has no path; give the request's path, such as "path": "/stripe""#
        ),
        (
            #"{"webhook": {"path": "stripe"}, "events": [], "status": 202}"#,
            #"fixtures/f.json: $.webhook.path must start with / and hold no spaces or ? (give query parameters in "query")"#
        ),
        (
            #"{"webhook": {"path": "/", "method": "post"}, "events": [], "status": 202}"#,
            "fixtures/f.json: $.webhook.method must be POST, PUT, PATCH, DELETE or GET (the methods serve runs the rule for)"
        ),
        (
            #"{"webhook": {"path": "/", "headers": {"content-type": 1}}, "events": [], "status": 202}"#,
            "fixtures/f.json: $.webhook.headers.content-type must be a string; it is an integer"
        ),
        (
            #"{"webhook": {"path": "/", "headers": {"a b": "1"}}, "events": [], "status": 202}"#,
            #"fixtures/f.json: $.webhook.headers["a b"] is not a header name; use letters, digits and -"#
        ),
        (
            #"{"webhook": {"path": "/", "headers": {"x": "1\r\nY: 2"}}, "events": [], "status": 202}"#,
            "fixtures/f.json: $.webhook.headers.x must not contain a line break"
        ),
        (
            #"{"webhook": {"path": "/", "query": {"q": [1]}}, "events": [], "status": 202}"#,
            "fixtures/f.json: $.webhook.query.q[0] must be a string; it is an integer"
        ),
        (
            #"{"webhook": {"path": "/", "body": "", "json": {}}, "events": [], "status": 202}"#,
            #"fixtures/f.json: $.webhook has both "body" and "json"; a request has one body, so keep one of them"#
        ),
        (
            #"{"webhook": {"path": "/", "jsn": {}}, "events": [], "status": 202}"#,
            #"fixtures/f.json: $.webhook.jsn is not a member of a webhook (did you mean "json"?)"#
        ),
        (
            #"{"webhook": {"path": "/"}, "sign": {"secret": "s"}, "events": [], "status": 202}"#,
            #"fixtures/f.json: $.sign has no scheme; give "scheme": "stripe", "github", "shopify", "standard" or "hmac""#
        ),
        (
            #"{"webhook": {"path": "/"}, "sign": {"scheme": "paypal", "secret": "s"}, "events": [], "status": 202}"#,
            "fixtures/f.json: $.sign.scheme must be stripe, github, shopify, standard or hmac"
        ),
        (
            #"{"webhook": {"path": "/"}, "sign": {"scheme": "github"}, "events": [], "status": 202}"#,
            "fixtures/f.json: $.sign has no secret; give the signing secret the rule (or --verify) checks against"
        ),
        (
            #"{"webhook": {"path": "/"}, "sign": {"scheme": "github", "secret": "s", "header": "x"}, "events": [], "status": 202}"#,
            "fixtures/f.json: $.sign.header applies only to the hmac scheme; github names its own header"
        ),
        (
            #"{"webhook": {"path": "/"}, "sign": {"scheme": "standard", "secret": "whsec_!!"}, "events": [], "status": 202}"#,
            "fixtures/f.json: $.sign.secret cannot sign with it: the Standard Webhooks signing secret is not whsec_ followed by base64"
        ),
        (
            #"{"webhook": {"path": "/"}, "sign": {"scheme": "stripe", "secret": ""}, "events": [], "status": 202}"#,
            "fixtures/f.json: $.sign.secret cannot sign with it: the stripe signing secret is empty (set it in the endpoint's settings)"
        ),
    ]

    @Test(arguments: malformed)
    func aMalformedFixtureNamesTheFileAndTheJSONPath(text: String, message: String) {
        #expect(throws: FixtureError.self) { try Self.load(text) }
        do {
            _ = try Self.load(text)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func aSecretNeverAppearsInAMessage() {
        do {
            _ = try Self.load(
                #"{"webhook": {"path": "/"}, "sign": {"scheme": "standard", "secret": "whsec_t0p$ecret"}}"#)
            Issue.record("a bad secret loaded")
        } catch {
            #expect(!error.description.contains("t0p$ecret"))
        }
    }

    @Test func updateCopiesInputsByteForByteSortsKeysAndIsIdempotent() throws {
        let original = """
            {"webhook":   {"path": "/s",
                "json": {"z": 1,   "a": 2}},
              "status": 200, "sign": {"scheme": "github", "secret": "x"},
              "events": [], "response": "old", "now": 1764504000, "settings": {  "k": "v" }}
            """
        let fixture = try Self.load(original)
        let outcome = FixtureOutcome(
            .events([["name": "Paid", "user": ["email": "a@x.io"], "properties": ["amount": 42.0]]]), status: 202,
            response: ["accepted": 1])
        let written = fixture.text(expecting: outcome)
        #expect(
            String(decoding: written, as: UTF8.self) == """
                {
                  "events": [
                    {
                      "name": "Paid",
                      "properties": {
                        "amount": 42.0
                      },
                      "user": {
                        "email": "a@x.io"
                      }
                    }
                  ],
                  "now": 1764504000,
                  "response": {
                    "accepted": 1
                  },
                  "settings": {  "k": "v" },
                  "sign": {"scheme": "github", "secret": "x"},
                  "status": 202,
                  "webhook": {"path": "/s",
                    "json": {"z": 1,   "a": 2}}
                }

                """)
        let reloaded = try Fixture(file: "fixtures/f.json", text: written, signedAt: 0)
        #expect(reloaded.expectation == outcome)
        #expect(reloaded.text(expecting: outcome) == written, "a canonical fixture rewrites to the same bytes")
        let skipped = reloaded.text(expecting: FixtureOutcome(.skip("test account"), status: 200))
        #expect(
            String(decoding: skipped, as: UTF8.self).contains(
                "  \"skip\": \"test account\",\n  \"status\": 200,\n  \"webhook\""))
        #expect(!String(decoding: skipped, as: UTF8.self).contains("\"events\""))
    }

    @Test func memberSpansFindEachTopLevelValueWhateverItHolds() {
        let text = #"{ "a" : "x\"}" , "b":[1,{"c":"]"}],"c\u0064":-1.5e3,"e":null }"#
        let spans = FixtureMemberSpans.scan(Array(text.utf8))
        #expect(spans.map(\.key) == ["a", "b", "cd", "e"])
        #expect(
            spans.map { String(decoding: Array(text.utf8)[$0.value], as: UTF8.self) } == [
                #""x\"}""#, #"[1,{"c":"]"}]"#, "-1.5e3", "null",
            ])
    }
}
