import Foundation
import TestSupport
import Testing

// A real process: the exit codes the shell sees, and a rule call stuck in a C call, which only
// the process exiting ends (the watchdog gives the thread up).
/// `encharge-lua test` as CI runs it: exit 0 when every fixture passes, 1 when one fails or its rule
/// call is stuck, 2 when a fixture is malformed; paths relative to the working directory.
@Suite struct TestCommandEndToEndTests {
    static let rule = """
        function on_record(r, ctx)
          if r.id == 2 then
            table.move({}, 1, 1e12, 2)
          end
          encharge.identify{ userId = r.id }
        end
        """

    static func folder(_ fixtures: [String: String]) throws -> TemporaryDirectory {
        let tmp = try TemporaryDirectory()
        _ = try tmp.write("rules.lua", rule)
        try FileManager.default.createDirectory(atPath: tmp.file("fixtures"), withIntermediateDirectories: true)
        for (name, text) in fixtures { _ = try tmp.write("fixtures/" + name, text) }
        return tmp
    }

    static let passing = #"{"record": {"id": 1}, "events": [{"name": "identify", "user": {"userId": "1"}}]}"#

    @Test func theExitCodesAreThoseOfATestRunner() throws {
        let tmp = try Self.folder(["a.json": Self.passing])
        defer { tmp.cleanup() }
        let ok = try Binary.run(["test", "rules.lua"], directory: tmp.path)
        #expect(ok.status == 0)
        #expect(ok.stdout == "ok   fixtures/a.json\n1 passed, 0 failed\n")

        _ = try tmp.write("fixtures/b.json", #"{"record": {"id": 3}, "events": []}"#)
        let failed = try Binary.run(["test", "rules.lua"], directory: tmp.path)
        #expect(failed.status == 1)
        #expect(failed.stdout.hasSuffix("1 passed, 1 failed\n"))

        _ = try tmp.write("fixtures/c.json", #"{"record": {"id": 3}, "event": []}"#)
        let malformed = try Binary.run(["test", "rules.lua"], directory: tmp.path)
        #expect(malformed.status == 2)
        #expect(malformed.stdout.isEmpty)
        #expect(
            malformed.stderr
                == "error: fixtures/c.json: $.event is not a member of a fixture (did you mean \"events\"?)\n"
        )
    }

    @Test func aRuleCallStuckInALibraryFunctionFailsItsFixtureAndExits1WithTheCountsSoFar() throws {
        let tmp = try Self.folder([
            "a.json": Self.passing, "b.json": #"{"record": {"id": 2}, "events": []}"#, "c.json": Self.passing,
        ])
        defer { tmp.cleanup() }
        let start = Date()
        let result = try Binary.run(["test", "rules.lua", "--time-limit", "0.5"], directory: tmp.path, timeout: 60)
        #expect(!result.timedOut)
        #expect(Date().timeIntervalSince(start) < 30)
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines.prefix(2) == ["ok   fixtures/a.json", "FAIL fixtures/b.json"])
        let error = try #require(lines.dropFirst(2).first)
        #expect(error.hasPrefix(#"  error "rules.lua:3: a call of the rule ran for "#))
        #expect(
            error.hasSuffix(
                #"over 2× the time limit of 0.50 s, inside a library function no limit can interrupt; the test stops here, so change the rule near this line""#
            ))
        #expect(lines.last == "stopped: 1 passed, 1 failed, 1 not run")
    }
}
