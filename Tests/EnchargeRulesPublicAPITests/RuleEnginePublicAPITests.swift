import EnchargeKit
import EnchargeRules
import Foundation
import JSONKit
import LuaKit
import Testing

/// The rule engine as an app outside the package sees it: this target is built without package
/// access, so every declaration used here must be `public`. examples/swift-embedding covers records
/// and delivery; these cover the rest of the embedding surface (raw JSON records, webhooks, load
/// errors, warnings, log levels).
@Suite struct RuleEnginePublicAPITests {
    func engine(_ source: String, logLevel: LogLevel = .info) throws -> RuleEngine {
        var options = RuleOptions(rulesPath: "/app/rules.lua", logLevel: logLevel)
        options.source = Array(source.utf8)
        options.logHandler = { _ in }
        return try RuleEngine(options: options)
    }

    @Test func mapsARecordGivenAsRawJSONBytes() throws {
        let engine = try engine(
            "function on_record(r, ctx) encharge.track('Paid', { userId = r.id }, { src = ctx.source }) end")
        #expect(engine.hasOnRecord && !engine.servesWebhooks)
        let outcome = Array(#"{"id": "u1"}"#.utf8).withUnsafeBytes { engine.map(json: $0, source: "app:3") }
        guard case .mapped(let events) = outcome else {
            Issue.record("expected events, got \(outcome)")
            return
        }
        #expect(
            events.map { String(decoding: $0.wireJSON(), as: UTF8.self) } == [
                #"{"name":"Paid","user":{"userId":"u1"},"properties":{"src":"app:3"}}"#
            ])
    }

    @Test func aRecordTheRuleCannotMapFailsWithTheRuleLine() throws {
        let engine = try engine("function on_record(r)\n  encharge.identify{ name = r.name }\nend\n")
        guard case .failed(let message, _) = engine.map(value: ["name": "Ada"], source: "app:1") else {
            Issue.record("expected a failure")
            return
        }
        #expect(message == "/app/rules.lua:2: identify: user needs email or userId")
    }

    @Test func handlesAWebhookRouteAndReturnsItsEventsAndAnswer() throws {
        let engine = try engine(
            """
            routes = {}
            routes["POST /signup"] = function(req)
              encharge.identify{ email = req.json.email }
              return { status = 201, body = { ok = true } }
            end
            """)
        #expect(engine.servesWebhooks)
        let request = WebhookRequest(
            id: "req-1", method: "POST", path: "/signup", query: [],
            headers: [("content-type", "application/json")], body: Array(#"{"email":"ada@example.com"}"#.utf8),
            remoteIP: "192.0.2.7")
        guard case .handled(let events, let response) = engine.handleWebhook(request) else {
            Issue.record("expected the request handled")
            return
        }
        #expect(events.map(\.name) == ["identify"])
        #expect(
            response
                == WebhookResponse(
                    status: 201, headers: [("content-type", "application/json")], body: Array(#"{"ok":true}"#.utf8)))
        var other = request
        other.path = "/elsewhere"
        guard case .notFound = engine.handleWebhook(other) else {
            Issue.record("expected no route for /elsewhere")
            return
        }
    }

    @Test func aRuleThatDoesNotCompileThrowsALoadErrorNamingItsLine() {
        #expect {
            _ = try engine("function on_record(r)\n  encharge.identify{\nend\n")
        } throws: { error in
            guard let error = error as? RuleLoadError else { return false }
            return error.description
                == "/app/rules.lua:3: unexpected symbol near 'end' (the rules file does not compile)"
                && error.description.hasSuffix("(the rules file does not compile)")
        }
    }

    @Test func lintingReportsAnUndeclaredGlobal() throws {
        var options = RuleOptions(rulesPath: "/app/rules.lua", lintGlobals: true)
        options.source = Array("function on_record(r) counter = 1 end".utf8)
        let engine = try RuleEngine(options: options)
        _ = engine.map(value: [:], source: "app:1")
        #expect(
            engine.warnings == [
                "/app/rules.lua:1: warning: assignment to undeclared global 'counter' (declare it with 'local', or at"
                    + " the top level of the file)"
            ])
    }

    @Test func logLevelsReadTheirNamesAndOrderBySeverity() {
        #expect(LogLevel(name: "WARN") == .warn)
        #expect(LogLevel(name: "verbose") == nil)
        #expect(LogLevel.debug < .error)
    }
}
