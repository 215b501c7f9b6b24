import Foundation
import Testing
import TestSupport

/// The command line as a user meets it: numeric flags, secret files, message style, help, and
/// `mock-ingest`'s own flags, through the real binary.
@Suite struct CommandLineTests {
    /// Writes a one-line rule into `tmp`.
    func rule(_ tmp: TemporaryDirectory, _ body: String = "function on_record(r) end") throws -> String {
        try tmp.write("rules.lua", body)
    }

    // MARK: Numeric flags

    /// Every numeric flag of every command, out of range: a usage error (exit 2) naming the flag,
    /// never a crash (SIGILL from an overflowing conversion) nor a silent wrap.
    @Test(arguments: [
        (["serve", "R", "--port", "70000"], "--port"),
        (["serve", "R", "--port=-1"], "--port"),
        (["serve", "R", "--max-body", "99999999999999MiB"], "--max-body"),
        (["serve", "R", "--max-body", "0"], "--max-body"),
        (["serve", "R", "--workers", "0"], "--workers"),
        (["serve", "R", "--workers", "100000"], "--workers"),
        (["serve", "R", "--dedup-window", "inf"], "--dedup-window"),
        (["serve", "R", "--dedup-window=-1"], "--dedup-window"),
        (["run", "R", "--time-limit", "inf"], "--time-limit"),
        (["run", "R", "--time-limit", "1e10"], "--time-limit"),
        (["run", "R", "--time-limit", "nan"], "--time-limit"),
        (["check", "R", "--time-limit", "0"], "--time-limit"),
        (["check", "R", "--memory-limit", "99999999999999"], "--memory-limit"),
        (["check", "R", "--memory-limit", "0"], "--memory-limit"),
        (["check", "R", "--instruction-limit", "10"], "--instruction-limit"),
        (["run", "R", "--concurrency", "0"], "--concurrency"),
        (["run", "R", "--concurrency", "5000"], "--concurrency"),
        (["run", "R", "--max-attempts", "0"], "--max-attempts"),
        (["run", "R", "--connect-timeout", "inf"], "--connect-timeout"),
        (["run", "R", "--request-timeout", "1e300"], "--request-timeout"),
        (["run", "R", "--request-timeout", "0"], "--request-timeout"),
        (["replay", "D", "--backoff-base", "nan"], "--backoff-base"),
        (["replay", "D", "--backoff-cap", "inf"], "--backoff-cap"),
        (["replay", "D", "--drain-timeout=-1"], "--drain-timeout"),
        (["replay", "D", "--drain-timeout", "1e20"], "--drain-timeout"),
        (["mock-ingest", "--port", "70000"], "--port"),
        (["mock-ingest", "--fail-rate", "nan"], "--fail-rate"),
        (["mock-ingest", "--drop-rate", "1.5"], "--drop-rate"),
        (["mock-ingest", "--rate-limit", "0"], "--rate-limit"),
        (["mock-ingest", "--latency-ms=-5"], "--latency-ms"),
        (["mock-ingest", "--latency-ms", "9223372036854775807"], "--latency-ms"),
    ] as [([String], String)])
    func outOfRangeNumbersAreUsageErrors(_ arguments: [String], _ flag: String) throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try rule(tmp)
        let dead = try tmp.write("dead.jsonl", "")
        let resolved = arguments.map { $0 == "R" ? rules : $0 == "D" ? dead : $0 }
        let result = try Binary.run(resolved, environment: ["ENCHARGE_WRITE_KEY": "k"])
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(result.stderr.hasPrefix("error: \(flag)"), "\(arguments): \(result.stderr)")
    }

    // MARK: Message style

    @Test func usageErrorsReadErrorColonNotArgumentParsersError() throws {
        let result = try Binary.run(["run"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: missing expected argument '<rules.lua>'"), "\(result.stderr)")
        #expect(!result.stderr.contains("Error:"))
    }

    @Test func anUnreadableInputIsReportedAsAnError() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try rule(tmp)
        let result = try Binary.run(["run", rules, tmp.path + "/missing.jsonl", "--dry-run"], directory: tmp.path)
        #expect(result.status == 2, "a missing input is an input error, not a failed record")
        #expect(result.stderr.hasPrefix("error: cannot read \(tmp.path)/missing.jsonl: No such file or directory; check the path"),
            "\(result.stderr)")
    }

    @Test func mockIngestOnAPortInUseSaysSo() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let first = try MockIngestProcess([], in: tmp)
        defer { first.stop() }
        let port = try #require(first.endpoint.split(separator: ":").last?.split(separator: "/").first.map(String.init))
        let second = try Binary.run(["mock-ingest", "--port", port])
        #expect(second.status == 2)
        #expect(second.stderr == "error: cannot listen on 127.0.0.1:\(port): address already in use\n")
    }

    /// A record value with a newline and terminal escapes, echoed by `log` and by a rule error,
    /// cannot start a line of its own nor reach the terminal raw.
    @Test func recordValuesCannotForgeLinesOrEscapeSequences() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try rule(tmp, """
            function on_record(r)
              log.info("name:", r.name)
              error("bad name " .. r.name)
            end
            """)
        let forged = "x\\nrules.lua:1: error: forged\\u001b[2J\\u0000"
        let input = try tmp.write("in.jsonl", "{\"name\":\"\(forged)\"}\n")
        let result = try Binary.run(["run", rules, input, "--dry-run", "--dead-letter", tmp.path + "/dead.jsonl"])
        #expect(result.status == 1)
        #expect(!result.stderr.contains("\u{1B}"), "\(result.stderr)")
        #expect(!result.stderr.contains("\0"))
        #expect(!result.stderr.split(separator: "\n").contains { $0.hasPrefix("rules.lua:1: error: forged") })
        #expect(result.stderr.contains(#"name: x\nrules.lua:1: error: forged\u001b[2J\0"#), "\(result.stderr)")
        // (Lua's error message ends at the NUL.)
        #expect(result.stderr.contains(#"bad name x\nrules.lua:1: error: forged\u001b[2J"#), "\(result.stderr)")
    }

    @Test func longMessagesAreCappedWithTheCountLeftOut() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        _ = try rule(tmp, "function on_record(r) log.info(string.rep(\"a\", 10000)) end")
        _ = try tmp.write("in.jsonl", "{}\n")
        let result = try Binary.run(["run", "rules.lua", "in.jsonl", "--dry-run"], directory: tmp.path)
        let line = try #require(result.stderr.split(separator: "\n").first { $0.contains("aaaa") })
        #expect(line.utf8.count < 4200)
        // Issue 8: a log line keeps its rule line after the cut (it used to be cut off with the rest).
        #expect(line.hasSuffix(" bytes more) (rules.lua:1)"))
        // What was cut is counted exactly: the 10,000 bytes less those shown.
        #expect(line.hasPrefix("in.jsonl:1: info: aaa"))
        let shown = line.dropFirst("in.jsonl:1: info: ".count).prefix { $0 == "a" }.count
        #expect(line.hasSuffix("… (\(10000 - shown) bytes more) (rules.lua:1)"), "\(line.suffix(60))")
    }

    // MARK: Secret files

    @Test func aWriteKeyFileOthersCanReadGetsAWarningAndStillWorks() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", "file-key-7"], in: tmp)
        defer { mock.stop() }
        let rules = try rule(tmp, "function on_record(r) encharge.identify{ email = r.email } end")
        let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n")
        let keyFile = try tmp.write("key.txt", "file-key-7\n")
        chmod(keyFile, 0o644)
        let loose = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint, "--write-key-file", keyFile], removing: ["ENCHARGE_WRITE_KEY"])
        #expect(loose.status == 0, "\(loose.stderr)")
        #expect(loose.stderr.contains("warning: \(keyFile) holds a secret and other users can read it; run chmod 600 \(keyFile)"))
        #expect(!loose.stderr.contains("file-key-7"))
        chmod(keyFile, 0o600)
        let tight = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint, "--write-key-file", keyFile], removing: ["ENCHARGE_WRITE_KEY"])
        #expect(tight.status == 0)
        #expect(!tight.stderr.contains("warning:"), "\(tight.stderr)")
        #expect(mock.received().count == 2)
    }

    @Test func serveWarnsAboutAWorldReadableSecretFile() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try rule(tmp, "function on_webhook(req) end")
        let key = try tmp.write("key.txt", "k\n")
        chmod(key, 0o600)
        let secret = try tmp.write("secret.txt", "whsec_x\n")
        chmod(secret, 0o604)
        // A missing --auth-token-file, read after the signing secret, stops serve before it listens.
        let result = try Binary.run(
            ["serve", rules, "--verify", "stripe", "--secret-file", secret, "--write-key-file", key,
             "--auth-token-file", tmp.path + "/missing", "--spool", tmp.path + "/spool.sqlite"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("warning: \(secret) holds a secret and other users can read it; run chmod 600 \(secret)"))
        #expect(!result.stderr.contains("\(key) holds"))
        #expect(result.stderr.contains("error: cannot read --auth-token-file \(tmp.path)/missing: No such file or directory"))
        #expect(!result.stderr.contains("whsec_x"))
    }

    // MARK: mock-ingest

    @Test func mockIngestReadsItsKeyFromAFileAndLogsEachRequestWithoutIt() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let keyFile = try tmp.write("mock-key.txt", "mock-file-key-3\n")
        chmod(keyFile, 0o600)
        let log = tmp.path + "/mock.log"
        let mock = try MockIngestProcess(["--write-key-file", keyFile, "--verbose"], in: tmp, stderrPath: log)
        let rules = try rule(tmp, "function on_record(r) encharge.identify{ email = r.email } end")
        let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n")
        let good = try Binary.run(["run", rules, input, "--endpoint", mock.endpoint], environment: ["ENCHARGE_WRITE_KEY": "mock-file-key-3"])
        let bad = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint, "--dead-letter", tmp.path + "/dead.jsonl"],
            environment: ["ENCHARGE_WRITE_KEY": "wrong"])
        mock.stop()
        #expect(good.status == 0, "\(good.stderr)")
        #expect(bad.status != 0)
        let lines = tmp.lines("mock.log").filter { $0.hasPrefix("mock-ingest: ") }
        #expect(lines.contains { $0.hasPrefix("mock-ingest: POST /v1/ 200 (") && $0.hasSuffix(" bytes)") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("mock-ingest: POST /v1/ 401 (") }, "\(lines)")
        #expect(!tmp.read("mock.log").contains("mock-file-key-3"))
        #expect(!tmp.read("mock.log").contains("wrong"))
    }

    /// The record file holds people's data, like a dead-letter file: owner-only.
    @Test func mockIngestCreatesItsRecordFileOwnerOnly() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", "k"], in: tmp)
        mock.stop()
        var info = stat()
        #expect(stat(mock.recordPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
    }

    @Test func mockIngestRefusesBothKeyFlags() throws {
        let result = try Binary.run(["mock-ingest", "--write-key", "a", "--write-key-file", "/dev/null"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: give either --write-key or --write-key-file, not both"))
    }

    // MARK: Help

    @Test(arguments: ["run", "check", "replay", "serve", "mock-ingest"])
    func everyCommandsHelpHasExitCodesAndExamples(_ command: String) throws {
        let result = try Binary.run([command, "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\nEXIT CODES\n"))
        let examples = try #require(result.stdout.range(of: "\nEXAMPLES\n"))
        #expect(result.stdout[examples.upperBound...].contains("encharge-lua \(command) "))
        if command != "mock-ingest" { #expect(result.stdout.contains("\nRULE:\n")) }
    }

    @Test func theTopLevelHelpHasExitCodesAndExamples() throws {
        let result = try Binary.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\nEXIT CODES\n"))
        let examples = try #require(result.stdout.range(of: "\nEXAMPLES\n"))
        for command in ["run", "check", "serve", "replay", "mock-ingest"] {
            #expect(result.stdout[examples.upperBound...].contains("encharge-lua \(command) "))
        }
    }
}
