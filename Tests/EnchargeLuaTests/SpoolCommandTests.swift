import EnchargeCommands
import Foundation
import MockIngest
import TestSupport
import Testing

/// `run --spool` and `deliver` on a SQLite spool, in process (issue 12): a backfill is committed
/// to the spool once, even when run twice, and a `deliver` worker sends it in per-person order and
/// stops on Ctrl-C (gracefully on the first, at once on the second). The same commands on a
/// PostgreSQL spool, with several processes, are in `SpoolScalingEndToEndTests`.
@Suite struct SpoolCommandTests {
    static let key = "spool-commands-key-3c1f"

    /// `count` records over `people` people, each emitting one event with its sequence number.
    func backfill(in tmp: TemporaryDirectory, count: Int, people: Int) throws -> (rules: String, input: String) {
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r)
              encharge.track("Step", { userId = r.uid }, { seq = r.seq })
            end
            """)
        var lines = ""
        for seq in 0..<count { lines += "{\"uid\":\"p\(seq % people)\",\"seq\":\(seq)}\n" }
        return (rules, try tmp.write("in.jsonl", lines))
    }

    func commandLine() -> InProcessCommandLine {
        var cli = InProcessCommandLine()
        cli.environment = ["ENCHARGE_WRITE_KEY": Self.key]
        return cli
    }

    @Test(.timeLimit(.minutes(2)))
    func runSpoolCommitsEveryRecordAndARerunSpoolsNothingTwice() async throws {
        try await TemporaryDirectory.with { tmp in
            let (rules, input) = try backfill(in: tmp, count: 300, people: 7)
            let spool = tmp.file("spool.sqlite")
            let first = await InProcessCommandLine().run(["run", rules, input, "--spool", spool])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(
                first.stderr.hasPrefix(
                    "done: 300 records: 300 with events, 0 skipped, 0 failed; 300 events; 300 spooled in "),
                "\(first.stderr)")
            let again = await InProcessCommandLine().run(["run", rules, input, "--spool", spool])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(
                again.stderr.contains("; 300 events; 0 spooled, 300 already spooled by an earlier run in "),
                "\(again.stderr)")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func deliverSendsASpooledBackfillInPerPersonOrderAndStopsOnCtrlC() async throws {
        try await TemporaryDirectory.with { tmp in
            let (rules, input) = try backfill(in: tmp, count: 400, people: 9)
            let spool = tmp.file("spool.sqlite")
            let spooled = await InProcessCommandLine().run(["run", rules, input, "--spool", spool, "--quiet"])
            #expect(spooled.status == 0, "\(spooled.stderr)")
            try await ScriptedIngestServer.with(configuration: MockIngestConfiguration(writeKey: Self.key)) {
                server, endpoint in
                let cli = commandLine()
                async let delivering = cli.run(
                    ["deliver", "--spool", spool, "--endpoint", endpoint, "--status-interval", "0.2"])
                await eventually("every spooled event is delivered", timeout: .seconds(60)) {
                    server.accepted.count >= 400
                }
                cli.interrupts.interrupt()
                let result = await delivering
                #expect(result.status == 0, "\(result.stderr)")
                #expect(
                    result.stdoutLines
                        == [
                            "encharge-lua deliver: delivering \(spool) (64 lanes shared among the delivering processes)"
                        ])
                #expect(result.stderr.contains("deliver: "), "a status line every 0.2 s: \(result.stderr)")
                #expect(
                    result.stderrLines.last
                        == "deliver: stopped: 400 delivered, 0 retried, 0 dead, 0 in flight; spool: 0 pending, 0 dead",
                    "\(result.stderr)")
                var seen: [String: Int] = [:]
                for request in server.accepted {
                    let person = try #require(request.person), seq = try #require(request.seq)
                    #expect(seq > seen[person, default: -1], "\(person): \(seq) after \(seen[person, default: -1])")
                    seen[person] = seq
                }
                #expect(server.accepted.count == 400, "each event once")
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aSecondCtrlCStopsDeliverAtOnceWithoutWaitingForTheWire() async throws {
        try await TemporaryDirectory.with { tmp in
            let (rules, input) = try backfill(in: tmp, count: 20, people: 20)
            let spool = tmp.file("spool.sqlite")
            _ = await InProcessCommandLine().run(["run", rules, input, "--spool", spool, "--quiet"])
            try await ScriptedIngestServer.with(script: { _, _ in IngestReply.ok.delayed(by: .seconds(5)) }) {
                server, endpoint in
                let cli = commandLine()
                async let delivering = cli.run(
                    ["deliver", "--spool", spool, "--endpoint", endpoint, "--drain-timeout", "30"])
                try #require(await eventually("requests on the wire") { server.inFlight > 0 })
                let clock = ContinuousClock()
                let signalled = clock.now
                cli.interrupts.interrupt()
                cli.interrupts.interrupt()
                let result = await delivering
                #expect(clock.now - signalled < .seconds(3), "the drain (up to 30 s) was not waited for")
                #expect(result.status == 130, "\(result.stderr)")
                #expect(
                    result.stderrLines.last
                        == "warning: stopping now (second signal); events on the wire stay pending and the worker that takes their lane sends them",
                    "\(result.stderr)")
            }
        }
    }

    @Test(arguments: [
        (
            ["deliver", "--spool", "s.sqlite", "--spool-password-file", "pw.txt"],
            "error: --spool-password-file applies to a postgres:// spool, and --spool s.sqlite is a SQLite file; drop --spool-password-file"
        ),
        (
            ["run", "r.lua", "in.jsonl", "--spool", "s.sqlite", "--dry-run"],
            "error: --dry-run prints the events and --spool commits them; give one of them"
        ),
        (
            ["run", "r.lua", "in.jsonl", "--spool-password-file", "pw.txt"],
            "error: --spool-password-file applies only with --spool postgres://..."
        ),
        (
            ["deliver", "--spool", "s.sqlite", "--status-interval=-1"],
            "error: --status-interval takes seconds from 0 up to 86400, got -1.0"
        ),
    ])
    func spoolFlagMistakesAreUsageErrors(arguments: [String], message: String) async throws {
        try await TemporaryDirectory.with { tmp in
            _ = try tmp.write("pw.txt", "secret")
            let absolute = arguments.map { $0.hasSuffix(".txt") ? tmp.file($0) : $0 }
            let expected = message.replacingOccurrences(of: "pw.txt", with: tmp.file("pw.txt"))
            let result = await commandLine().run(absolute)
            #expect(result.status == 2)
            #expect(result.stderrLines.first == expected, "\(result.stderr)")
        }
    }

    @Test func deliverWithoutAWriteKeyIsAConfigurationError() async throws {
        try await TemporaryDirectory.with { tmp in
            let result = await InProcessCommandLine().run(["deliver", "--spool", tmp.file("s.sqlite")])
            #expect(result.status == 2)
            #expect(
                result.stderr == "error: no Encharge write key: set ENCHARGE_WRITE_KEY or pass --write-key-file PATH\n")
        }
    }
}
