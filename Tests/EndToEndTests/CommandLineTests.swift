import Foundation
import TestSupport
import Testing

/// The command line as a user meets it through the real binary: its exit codes (0, 1, 2), what
/// reaches its standard error, and secrets that never do. (Exit code 130 is a signal's:
/// DeliveryEndToEndTests and ShutdownEndToEndTests. The rest runs in process in EnchargeLuaTests.)
@Suite struct CommandLineTests {
    /// Writes a one-line rule into `tmp`.
    func rule(_ tmp: TemporaryDirectory, _ body: String = "function on_record(r) end") throws -> String {
        try tmp.write("rules.lua", body)
    }

    // MARK: Message style

    // Exit code 2 of the binary as such.
    @Test func usageErrorsReadErrorColonNotArgumentParsersError() throws {
        let result = try Binary.run(["run"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: missing expected argument '<rules.lua>'"), "\(result.stderr)")
        #expect(!result.stderr.contains("Error:"))
    }

    // Exit code 1 of the binary as such, and the bytes that reach the real standard error.
    /// A record value with a newline and terminal escapes, echoed by `log` and by a rule error,
    /// cannot start a line of its own nor reach the terminal raw.
    @Test func recordValuesCannotForgeLinesOrEscapeSequences() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try rule(
            tmp,
            """
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

    // MARK: Secret files

    // The real binary: the key from the file never appears in what the process prints.
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
            ["run", rules, input, "--endpoint", mock.endpoint, "--write-key-file", keyFile],
            removing: ["ENCHARGE_WRITE_KEY"])
        #expect(loose.status == 0, "\(loose.stderr)")
        #expect(
            loose.stderr.contains(
                "warning: \(keyFile) holds a secret and other users can read it; run chmod 600 \(keyFile)"))
        #expect(!loose.stderr.contains("file-key-7"))
        chmod(keyFile, 0o600)
        let tight = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint, "--write-key-file", keyFile],
            removing: ["ENCHARGE_WRITE_KEY"])
        #expect(tight.status == 0)
        #expect(!tight.stderr.contains("warning:"), "\(tight.stderr)")
        #expect(mock.received().count == 2)
    }

    // The real binary: the signing secret never appears in what the process prints.
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
            [
                "serve", rules, "--verify", "stripe", "--secret-file", secret, "--write-key-file", key,
                "--auth-token-file", tmp.path + "/missing", "--spool", tmp.path + "/spool.sqlite",
            ])
        #expect(result.status == 2)
        #expect(
            result.stderr.contains(
                "warning: \(secret) holds a secret and other users can read it; run chmod 600 \(secret)"))
        #expect(!result.stderr.contains("\(key) holds"))
        #expect(
            result.stderr.contains(
                "error: cannot read --auth-token-file \(tmp.path)/missing: No such file or directory"))
        #expect(!result.stderr.contains("whsec_x"))
    }

    // MARK: mock-ingest

    // The real binary: mock-ingest's key never appears in what the process prints.
    @Test func mockIngestReadsItsKeyFromAFileAndLogsEachRequestWithoutIt() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let keyFile = try tmp.write("mock-key.txt", "mock-file-key-3\n")
        chmod(keyFile, 0o600)
        let mock = try MockIngestProcess(["--write-key-file", keyFile, "--verbose"], in: tmp)
        let rules = try rule(tmp, "function on_record(r) encharge.identify{ email = r.email } end")
        let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n")
        let good = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint], environment: ["ENCHARGE_WRITE_KEY": "mock-file-key-3"])
        let bad = try Binary.run(
            ["run", rules, input, "--endpoint", mock.endpoint, "--dead-letter", tmp.path + "/dead.jsonl"],
            environment: ["ENCHARGE_WRITE_KEY": "wrong"])
        mock.stop()
        #expect(good.status == 0, "\(good.stderr)")
        #expect(bad.status != 0)
        let log = mock.stderr
        let lines = log.split(separator: "\n").map(String.init).filter { $0.hasPrefix("mock-ingest: ") }
        #expect(lines.contains { $0.hasPrefix("mock-ingest: POST /v1/ 200 (") && $0.hasSuffix(" bytes)") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("mock-ingest: POST /v1/ 401 (") }, "\(lines)")
        #expect(!log.contains("mock-file-key-3"))
        #expect(!log.contains("wrong"))
    }

    // A real process: mock-ingest stops only on a signal (SIGTERM), so it cannot run in this one.
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

    // MARK: Help

    // Exit code 0 of the binary as such.
    @Test func theTopLevelHelpHasExitCodesAndExamples() throws {
        let result = try Binary.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\nEXIT CODES\n"))
        let examples = try #require(result.stdout.range(of: "\nEXAMPLES\n"))
        for command in ["init", "test", "run", "check", "diff", "serve", "replay", "mock-ingest"] {
            #expect(result.stdout[examples.upperBound...].contains("encharge-lua \(command) "))
        }
    }
}
