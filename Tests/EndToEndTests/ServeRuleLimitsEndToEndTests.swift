import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a rule cannot do to `serve`: run without bound (finalizers, message handlers, a library
/// call stuck in C), make an unsigned body cost memory or disk, or turn a later error into a 401.
extension ServeEndToEndTests {
    /// `replay --spool` without rules: how many failed requests the spool keeps (0 when it says none).
    func keptRequestCount(_ tmp: TemporaryDirectory) throws -> Int {
        let replay = try Binary.run(
            ["replay", "--spool", tmp.path + "/spool.sqlite"], environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(replay.status == 0, "\(replay.stderr)")
        guard let range = replay.stderr.range(of: "warning: ") else { return 0 }
        return Int(replay.stderr[range.upperBound...].prefix { $0.isNumber }) ?? -1
    }

    /// POSTs from a thread of its own; the reply once it came.
    final class BackgroundPost: @unchecked Sendable {
        // Invariant: `reply` is written once by the thread, read after `done` was signalled.
        private var reply: HTTPReply?
        private let done = DispatchSemaphore(value: 0)

        init(_ serve: ServeProcess, _ json: String) {
            let port = serve.port
            Thread.detachNewThread { [self] in
                reply = try? RawHTTPConnection.postJSON(port: port, "/", json)
                done.signal()
            }
        }

        func wait(timeout: Double) -> HTTPReply? {
            done.wait(timeout: .now() + timeout) == .success ? reply : nil
        }
    }

    static let rulesWithFinalizersAndHandlers = """
        function on_webhook(req)
          if req.json.kind == "gc" then setmetatable({}, { __gc = function() while true do end end }) end
          if req.json.kind == "xpcall" then xpcall(error, function() while true do end end) end
          encharge.track("Paid", { email = req.json.email }, { seq = req.json.seq })
        end
        """

    @Test(.timeLimit(.minutes(2)))
    func finalizersAndEndlessMessageHandlersFailTheRequestAndSignalsStillStopTheServer() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let rules = try tmp.write("rules.lua", Self.rulesWithFinalizersAndHandlers)
        for signal in [SIGINT, SIGTERM] {
            let serve = try startServe(rules, tmp, mock, ["--time-limit", "1"])
            defer { serve.kill9() }
            let gc = try serve.postJSON("/", #"{"email":"gc@example.com","seq":1,"kind":"gc"}"#)
            #expect(gc.status == 500, "\(gc)")
            // The log line is written as the answer goes out: wait for it rather than read at once.
            #expect(
                await eventually("\(serve.stderr)", timeout: .seconds(10)) {
                    serve.stderr.contains("a __gc finalizer is not allowed")
                })
            let handler = try serve.postJSON("/", #"{"email":"x@example.com","seq":2,"kind":"xpcall"}"#)
            #expect(handler.status == 500, "\(handler)")
            let fine = try serve.postJSON("/", #"{"email":"fine@example.com","seq":3}"#)
            #expect(fine.status == 202, "\(fine)")
            serve.signal(signal)
            #expect(serve.waitForExit(timeout: 15), "signal \(signal) did not stop serve: \(serve.stderr)")
            serve.process.waitUntilExit()
            #expect(serve.process.terminationStatus == 0)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aReloadWhoseTopLevelRunsAFinalizerOrAnEndlessHandlerIsRefusedAndLaterReloadsWork() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        func rule(_ name: String, topLevel: String = "") -> String {
            topLevel
                + "\nfunction on_webhook(req)\n  encharge.track(\"\(name)\", { email = req.json.email }, { seq = req.json.seq })\nend\n"
        }
        let path = try tmp.write("rules.lua", rule("V1"))
        let serve = try startServe(path, tmp, mock, ["--workers", "1", "--time-limit", "1"])
        defer { serve.kill9() }
        #expect(try serve.postJSON("/", #"{"email":"r@example.com","seq":1}"#).status == 202)
        let bad = [
            "setmetatable({}, { __gc = function() while true do end end })",
            "xpcall(error, function() while true do end end)",
            // Stuck in one C call: refused after 2× the time limit, its thread left behind.
            "table.move({}, 1, 1e12, 2)",
        ]
        for (index, topLevel) in bad.enumerated() {
            _ = try tmp.write("rules.lua", rule("Bad", topLevel: topLevel))
            serve.signal(SIGHUP)
            await eventually("\(serve.stderr)", timeout: .seconds(20)) {
                serve.stderrCount("rules not reloaded") == index + 1
            }
            #expect(try serve.postJSON("/", #"{"email":"r@example.com","seq":\#(index + 2)}"#).status == 202)
        }
        _ = try tmp.write("rules.lua", rule("V2"))
        serve.signal(SIGHUP)
        await eventually("\(serve.stderr)", timeout: .seconds(20)) { serve.stderr.contains("rules reloaded") }
        #expect(try serve.postJSON("/", #"{"email":"r@example.com","seq":5}"#).status == 202)
        #expect(await waitForSeq(5, mock))
        let names = mock.received().compactMap { $0["name"] as? String }
        #expect(names == ["V1", "V1", "V1", "V1", "V2"], "\(names)")
        #expect(serve.stderr.contains("loading the rules file ran for over 3.00 s"), "\(serve.stderr)")
        #expect(serve.stop() == 0)
    }

    static let stuckRule = """
        function on_webhook(req)
          if req.json.stuck then log.info("entering the stuck call") end
          if req.json.stuck then table.move({}, 1, 1e12, 2) end
          encharge.track("Paid", { email = req.json.email }, { seq = req.json.seq })
        end
        """

    @Test(.timeLimit(.minutes(3)))
    func aCallStuckInCIsAnswered500KeptAndItsWorkerReplaced() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let rules = try tmp.write("rules.lua", Self.stuckRule)
        let serve = try startServe(rules, tmp, mock, ["--workers", "2", "--time-limit", "0.5"])
        defer { serve.kill9() }
        // Two at once: both workers stuck.
        let stuck = [1, 2].map { BackgroundPost(serve, #"{"email":"s@example.com","seq":\#($0),"stuck":true}"#) }
        for post in stuck {
            let reply = post.wait(timeout: 30)
            #expect(reply?.status == 500, "\(String(describing: reply))")
        }
        // The replaced workers answer.
        for seq in 3...6 {
            #expect(try serve.postJSON("/", #"{"email":"s@example.com","seq":\#(seq)}"#).status == 202)
        }
        #expect(await waitForSeq(6, mock))
        #expect(serve.stderrCount("rules.lua:3: a call of the rule ran for") >= 2, "\(serve.stderr)")
        #expect(serve.stderr.contains("rule worker replaced"), "\(serve.stderr)")
        let metrics = try serve.send("GET", "/metrics").text
        #expect(metrics.contains("encharge_rule_watchdog_total 2"), "\(metrics)")
        let health = try serve.send("GET", "/healthz")
        #expect(health.json?["rule_watchdog_overruns"] as? Int == 2, "\(health)")
        #expect(try keptRequestCount(tmp) == 2)
        #expect(serve.stop() == 0, "\(serve.stderr)")
    }

    @Test(.timeLimit(.minutes(2)))
    func sigtermEndsServeWithinTheDrainTimeoutWhileAWorkerIsStuck() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let rules = try tmp.write("rules.lua", Self.stuckRule)
        // A time limit far beyond the drain timeout: the watchdog does not free the worker in time.
        let serve = try startServe(rules, tmp, mock, ["--workers", "1", "--time-limit", "60", "--drain-timeout", "1"])
        defer { serve.kill9() }
        _ = BackgroundPost(serve, #"{"email":"s@example.com","seq":1,"stuck":true}"#)
        await eventually("\(serve.stderr)", timeout: .seconds(10)) { serve.stderr.contains("entering the stuck call") }
        let start = Date()
        serve.signal(SIGTERM)
        #expect(serve.waitForExit(timeout: 10), "SIGTERM did not end serve: \(serve.stderr)")
        #expect(Date().timeIntervalSince(start) < 6, "SIGTERM took \(Date().timeIntervalSince(start)) s")
    }

    @Test(.timeLimit(.minutes(2)))
    func keptRequestsAreCappedDroppingTheOldest() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_webhook(req)
              error("not yet")
            end
            """)
        let fixed = try tmp.write(
            "fixed.lua",
            """
            function on_webhook(req)
              encharge.track("Paid", { email = req.json.email }, { seq = req.json.seq })
            end
            """)
        let serve = try startServe(rules, tmp, mock, ["--max-kept-requests", "2"])
        defer { serve.kill9() }
        var ids: [String] = []
        for seq in 1...3 {
            let reply = try serve.postJSON("/", #"{"email":"c@example.com","seq":\#(seq)}"#)
            #expect(reply.status == 500)
            ids.append(reply.headers["x-request-id"] ?? "")
        }
        await eventually("\(serve.stderr)", timeout: .seconds(5)) {
            serve.stderr.contains("dropped the 1 oldest kept request (\(ids[0]))")
        }
        let metrics = try serve.send("GET", "/metrics").text
        #expect(metrics.contains("encharge_kept_requests_dropped_total 1"), "\(metrics)")
        #expect(try keptRequestCount(tmp) == 2)
        let replay = try Binary.run(
            ["replay", "--spool", tmp.path + "/spool.sqlite", "--rules", fixed],
            environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(replay.stderr.contains("2 failed requests replayed"), "\(replay.stderr)")
        await eventually("\(recordedSeqs(mock))", timeout: .seconds(10)) { Set(recordedSeqs(mock)) == [2, 3] }
    }

    @Test(.timeLimit(.minutes(2)))
    func ruleWarningsAreLoggedByServeAndByReplay() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let rule = """
            function on_webhook(req)
              if req.json.fail then error("not yet") end
              encharge.identify{ email = req.json.email, tags = { "a,b" } }
            end
            """
        let rules = try tmp.write("rules.lua", rule)
        let serve = try startServe(rules, tmp, mock)
        defer { serve.kill9() }
        #expect(try serve.postJSON("/", #"{"email":"w@example.com"}"#).status == 202)
        #expect(try serve.postJSON("/", #"{"email":"w@example.com"}"#).status == 202)
        #expect(try serve.postJSON("/", #"{"email":"w@example.com","fail":true}"#).status == 500)
        #expect(serve.stop() == 0)
        let line = serve.stderr.split(separator: "\n").first {
            $0.hasPrefix("warning: 2 tags contained a comma; Encharge splits tags at commas (first: ")
        }
        #expect(line?.contains("rules.lua:3, record request req_") == true, "\(serve.stderr)")
        #expect(
            serve.stderrCount("tags contained a comma") + serve.stderrCount("tag contained a comma") == 1,
            "reported once")
        let fixed = try tmp.write(
            "fixed.lua", rule.replacingOccurrences(of: "error(\"not yet\")", with: "req.json.fail = nil"))
        let replay = try Binary.run(
            ["replay", "--spool", tmp.path + "/spool.sqlite", "--rules", fixed],
            environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stderr.contains("warning: 1 tag contained a comma"), "\(replay.stderr)")
    }

}
