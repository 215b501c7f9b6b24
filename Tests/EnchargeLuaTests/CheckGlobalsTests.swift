import Foundation
import Testing
import TestSupport

/// `check` as a user meets it through the binary (issue 8).
@Suite struct CheckEndToEndTests {
    static let advice = "globals persist across calls within one worker and are not shared between workers — use a "
        + "local, or keep state outside the rule\n"

    @Test func warnsWhenAHandlerAssignsAGlobal() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        _ = try tmp.write("rules.lua", """
            count = 0
            local seen = {}
            function on_record(r, ctx)
              count = count + 1
              seen[r.id] = true
              last_id = r.id
              encharge.identify{ userId = r.id }
            end
            routes = {}
            routes["POST /hook"] = function(req)
              local body = req.json
              hits = (hits or 0) + 1
              return 200
            end
            """)
        let result = try Binary.run(["check", "rules.lua"], directory: tmp.path)
        #expect(result.status == 0)
        #expect(result.stderr.contains("rules.lua:4: warning: on_record assigns the global 'count'; " + Self.advice))
        #expect(result.stderr.contains("rules.lua:6: warning: on_record assigns the global 'last_id'; " + Self.advice))
        #expect(result.stderr.contains(
            "rules.lua:12: warning: routes[\"POST /hook\"] assigns the global 'hits'; " + Self.advice))
        #expect(!result.stderr.contains("'seen'") && !result.stderr.contains("'body'"))
        #expect(result.stderr.hasSuffix("rules.lua: ok (on_record, routes; 3 warnings)\n"))

        // With a sample, the run-time lint finds 'last_id' too: it is reported once.
        let sample = try tmp.write("in.jsonl", "{\"id\":1}\n")
        let checked = try Binary.run(["check", "rules.lua", "--input", sample], directory: tmp.path)
        #expect(checked.status == 0)
        #expect(checked.stderr.components(separatedBy: "'last_id'").count == 2, "\(checked.stderr)")
        #expect(checked.stderr.hasSuffix("rules.lua: ok (on_record, routes; 3 warnings)\n"))
    }

    @Test func topLevelStateAndLocalsGetNoWarning() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        _ = try tmp.write("rules.lua", """
            plans = { pro = "Pro" }
            local function plan(r) local p = plans[r.plan]; return p end
            function on_record(r)
              local name = plan(r)
              r.plan = name
              encharge.identify{ userId = r.id, plan = name }
            end
            """)
        let result = try Binary.run(["check", "rules.lua"], directory: tmp.path)
        #expect(result.status == 0)
        #expect(result.stderr == "rules.lua: ok (on_record)\n")
    }
}
