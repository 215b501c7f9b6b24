import EnchargeCommands
import Foundation
import MockIngest
import TestSupport
import Testing

/// `run --spool` and `deliver` on a SQLite spool, in process (issue 12): a backfill is committed
/// to the spool once, even when run twice, and a `deliver` worker sends it in per-person order and
/// stops on Ctrl-C. The same commands on a PostgreSQL spool, with several processes, a refused
/// write key and a second Ctrl-C (which ends the process at once) are in `SpoolScalingEndToEndTests`.
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

    /// A password in the URL is accepted and never shown, also when the spool cannot be reached
    /// (port 1 refuses): the message names the URL without it.
    @Test func aPasswordInTheSpoolURLIsNeverShown() async throws {
        let result = await commandLine().run(["deliver", "--spool", "postgres://encharge:s3cret-pw@127.0.0.1:1/spool"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: postgres://encharge@127.0.0.1:1/spool: "), "\(result.stderr)")
        #expect(!result.stderr.contains("s3cret-pw"))
    }

    /// The PostgreSQL password comes from `--spool-password-file`, else the URL, else the command's
    /// environment (`PGPASSWORD`); none is printed.
    @Test(.timeLimit(.minutes(2)))
    func thePostgresPasswordComesFromTheEnvironmentOrThePasswordFile() async throws {
        let cluster = try PostgresCluster.shared()
        let spool = cluster.url(database: try cluster.createDatabase())
        var withPassword = InProcessCommandLine()
        withPassword.environment = ["PGPASSWORD": cluster.password]
        let replayed = await withPassword.run(["replay", "--spool", spool])
        #expect(replayed.status == 0, "\(replayed.stderr)")
        #expect(replayed.stderr == "0 dead events re-queued for delivery\n")

        // A password in the URL wins over PGPASSWORD.
        var wrongEnvironment = InProcessCommandLine()
        wrongEnvironment.environment = ["PGPASSWORD": "not-the-password"]
        let inURL =
            "postgres://\(PostgresCluster.user):\(cluster.password)@"
            + spool.dropFirst("postgres://\(PostgresCluster.user)@".count)
        let fromURL = await wrongEnvironment.run(["replay", "--spool", inURL])
        #expect(fromURL.status == 0, "\(fromURL.stderr)")

        let refused = await InProcessCommandLine().run(["replay", "--spool", spool])
        #expect(refused.status == 2, "no PGPASSWORD, no password: \(refused.stderr)")
        #expect(refused.stderr.hasPrefix("error: \(spool): "), "\(refused.stderr)")

        try await TemporaryDirectory.with { tmp in
            let wrong = try tmp.write("wrong.txt", "not-the-password\n")
            chmod(wrong, 0o600)
            let fromFile = await withPassword.run(["replay", "--spool", spool, "--spool-password-file", wrong])
            #expect(fromFile.status == 2, "the file wins over PGPASSWORD: \(fromFile.stderr)")
            #expect(!fromFile.stderr.contains("not-the-password"))
            #expect(!fromFile.stderr.contains(cluster.password))
        }
    }
}
