import Foundation
import TestSupport
import Testing

/// `check` warning about globals a handler assigns (issue 8), run in process. The rules file is passed
/// by absolute path (the binary's tests ran in the temporary directory), so messages name it by that path.
@Suite struct CheckGlobalsTests {
    static let advice =
        "globals persist across calls within one worker and are not shared between workers (`run` and "
        + "`replay` map on several with --jobs, `serve` answers on several) — use a local, keep state "
        + "outside the rule, or for `run` and `replay` pass --jobs 1\n"

    @Test func warnsWhenAHandlerAssignsAGlobal() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
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
        let result = await InProcessCommandLine().run(["check", rules])
        #expect(result.status == 0)
        #expect(result.stderr.contains("\(rules):4: warning: on_record assigns the global 'count'; " + Self.advice))
        #expect(result.stderr.contains("\(rules):6: warning: on_record assigns the global 'last_id'; " + Self.advice))
        #expect(
            result.stderr.contains(
                "\(rules):12: warning: routes[\"POST /hook\"] assigns the global 'hits'; " + Self.advice))
        #expect(!result.stderr.contains("'seen'") && !result.stderr.contains("'body'"))
        #expect(result.stderr.hasSuffix("\(rules): ok (on_record, routes; 3 warnings)\n"))

        // With a sample, the run-time lint finds 'last_id' too: it is reported once.
        let sample = try tmp.write("in.jsonl", "{\"id\":1}\n")
        let checked = await InProcessCommandLine().run(["check", rules, "--input", sample])
        #expect(checked.status == 0)
        #expect(checked.stderr.components(separatedBy: "'last_id'").count == 2, "\(checked.stderr)")
        #expect(checked.stderr.hasSuffix("\(rules): ok (on_record, routes; 3 warnings)\n"))
    }

    @Test func topLevelStateAndLocalsGetNoWarning() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            plans = { pro = "Pro" }
            local function plan(r) local p = plans[r.plan]; return p end
            function on_record(r)
              local name = plan(r)
              r.plan = name
              encharge.identify{ userId = r.id, plan = name }
            end
            """)
        let result = await InProcessCommandLine().run(["check", rules])
        #expect(result.status == 0)
        #expect(result.stderr == "\(rules): ok (on_record)\n")
    }
}
