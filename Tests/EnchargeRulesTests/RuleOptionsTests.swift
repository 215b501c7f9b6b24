import EnchargeKit
import EnchargeRules
import Foundation
import JSONKit
import SystemKit
import Testing

/// `RuleOptions` as an embedding app sets it: the rule's text given directly, and the rule's log
/// lines handed to a closure instead of an `OutputWriter`.
@Suite struct RuleOptionsTests {
    @Test func logHandlerGetsEachLogLineOfTheRuleAtOrAboveTheLevel() throws {
        let lines = OutputBuffer()
        var options = RuleOptions(rulesPath: "/embedded/rules.lua", logLevel: .info)
        options.source = Array(
            "function on_record(r)\n  log.info('hello', r.n)\n  log.debug('hidden')\n  log.error('bad\\27[31m')\nend\n"
                .utf8)
        options.logHandler = { lines.write("handler got: " + $0) }
        let engine = try RuleEngine(options: options)
        guard case .mapped(let events) = engine.map(value: ["n": 7], source: "app:1") else {
            Issue.record("the record did not map")
            return
        }
        #expect(events.isEmpty)
        #expect(
            lines.text == """
                handler got: app:1: info: hello 7 (/embedded/rules.lua:2)
                handler got: app:1: error: bad\\u001b[31m (/embedded/rules.lua:4)

                """)
    }

    @Test func logHandlerReadsBackAsTheWriterItReplaces() {
        let written = OutputBuffer()
        var options = RuleOptions(rulesPath: "rules.lua")
        options.logWriter = written
        options.logHandler("through the handler\n")
        #expect(written.text == "through the handler\n")
    }

    @Test func aRuleGivenAsSourceTextDoesNotReadItsPath() throws {
        var options = RuleOptions(rulesPath: "/nonexistent/rules.lua")
        options.source = Array("function on_record(r) encharge.identify{ email = r.email } end".utf8)
        let engine = try RuleEngine(options: options)
        guard case .mapped(let events) = engine.map(value: ["email": "ada@example.com"], source: "app:1") else {
            Issue.record("the record did not map")
            return
        }
        #expect(
            events.map { String(decoding: $0.wireJSON(), as: UTF8.self) } == [
                #"{"name":"identify","user":{"email":"ada@example.com"}}"#
            ])
    }
}
