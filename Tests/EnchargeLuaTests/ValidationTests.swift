import ArgumentParser
import Testing

@testable import encharge_lua

/// Every command's `validate()` in process, through `EnchargeLua.parseAsRoot`: what the binary
/// prints for a bad flag (`error: ...`, exit 2 through `main`) is the styled message of the error
/// parsing throws.
@Suite struct ValidationTests {
    /// The error parsing `arguments` throws, as `main` prints it, and whether `main` exits 2 for it.
    func refusal(_ arguments: [String]) -> (message: String, usage: Bool)? {
        do {
            _ = try EnchargeLua.parseAsRoot(arguments)
            return nil
        } catch {
            let code = EnchargeLua.exitCode(for: error)
            return (EnchargeLua.styled(EnchargeLua.fullMessage(for: error)), code == .validationFailure)
        }
    }

    @Test(arguments: [
        (["serve", "r.lua", "--port", "70000"], "--port"),
        (["serve", "r.lua", "--port=-1"], "--port"),
        (["serve", "r.lua", "--max-body", "99999999999999MiB"], "--max-body"),
        (["serve", "r.lua", "--max-body", "0"], "--max-body"),
        (["serve", "r.lua", "--workers", "0"], "--workers"),
        (["serve", "r.lua", "--workers", "100000"], "--workers"),
        (["serve", "r.lua", "--dedup-window", "inf"], "--dedup-window"),
        (["serve", "r.lua", "--dedup-window=-1"], "--dedup-window"),
        (["serve", "r.lua", "--pace-backlog=-1"], "--pace-backlog"),
        (["serve", "r.lua", "--pace-backlog", "inf"], "--pace-backlog"),
        (["run", "r.lua", "--time-limit", "inf"], "--time-limit"),
        (["run", "r.lua", "--time-limit", "1e10"], "--time-limit"),
        (["run", "r.lua", "--time-limit", "nan"], "--time-limit"),
        (["check", "r.lua", "--time-limit", "0"], "--time-limit"),
        (["check", "r.lua", "--memory-limit", "99999999999999"], "--memory-limit"),
        (["check", "r.lua", "--memory-limit", "0"], "--memory-limit"),
        (["check", "r.lua", "--instruction-limit", "10"], "--instruction-limit"),
        (["run", "r.lua", "--concurrency", "0"], "--concurrency"),
        (["run", "r.lua", "--concurrency", "5000"], "--concurrency"),
        (["run", "r.lua", "--max-attempts", "0"], "--max-attempts"),
        (["run", "r.lua", "--connect-timeout", "inf"], "--connect-timeout"),
        (["run", "r.lua", "--request-timeout", "1e300"], "--request-timeout"),
        (["run", "r.lua", "--request-timeout", "0"], "--request-timeout"),
        (["replay", "d.jsonl", "--backoff-base", "nan"], "--backoff-base"),
        (["replay", "d.jsonl", "--backoff-cap", "inf"], "--backoff-cap"),
        (["replay", "d.jsonl", "--drain-timeout=-1"], "--drain-timeout"),
        (["replay", "d.jsonl", "--drain-timeout", "1e20"], "--drain-timeout"),
        (["mock-ingest", "--port", "70000"], "--port"),
        (["mock-ingest", "--fail-rate", "nan"], "--fail-rate"),
        (["mock-ingest", "--drop-rate", "1.5"], "--drop-rate"),
        (["mock-ingest", "--rate-limit", "0"], "--rate-limit"),
        (["mock-ingest", "--latency-ms=-5"], "--latency-ms"),
        (["mock-ingest", "--latency-ms", "9223372036854775807"], "--latency-ms"),
    ])
    func outOfRangeNumbersAreUsageErrorsNamingTheFlag(_ arguments: [String], _ flag: String) throws {
        let refused = try #require(refusal(arguments), "\(arguments) parsed")
        #expect(refused.usage, "\(arguments): \(refused.message)")
        #expect(refused.message.hasPrefix("error: \(flag)"), "\(arguments): \(refused.message)")
    }

    @Test(arguments: [
        (
            ["run", "r.lua", "in.txt"],
            "error: cannot tell the format of 'in.txt' from its name; name it .jsonl, .json or .csv, or pass --format"
        ),
        (["run", "r.lua", "in.jsonl", "--format", "xml"], "error: --format must be jsonl, json or csv, got 'xml'"),
        (
            ["run", "r.lua", "in.jsonl", "--delimiter", ";"],
            "error: --delimiter applies to CSV input only; name the file .csv or pass --format csv"
        ),
        (
            ["run", "r.lua", "in.csv", "--delimiter", ";;"],
            "error: --delimiter must be one character such as ';' or '|', or tab (got ';;')"
        ),
        (
            ["run", "r.lua", "--delimiter", ";"],
            "error: --delimiter applies to CSV input only; name the file .csv or pass --format csv"
        ),
        (
            ["run", "r.lua", "in.csv", "--records-path", "/data"],
            "error: --records-path applies to .json input only; name the file .json or pass --format json"
        ),
        (
            ["run", "r.lua", "--backoff-base", "5", "--backoff-cap", "1"],
            "error: --backoff-cap must be at least --backoff-base"
        ),
        (["run", "r.lua", "--set", "plan"], "error: --set takes key=value, got 'plan'"),
        (["run", "r.lua", "--log-level", "loud"], "error: --log-level must be debug, info, warn or error"),
        (["run", "r.lua", "--max-events-per-record", "0"], "error: --max-events-per-record must be at least 1"),
        (
            ["check", "r.lua", "--format", "csv"],
            "error: --format, --delimiter and --records-path apply to the --input sample; pass --input too"
        ),
        (
            ["check", "r.lua", "--delimiter", ";"],
            "error: --format, --delimiter and --records-path apply to the --input sample; pass --input too"
        ),
        (
            ["check", "r.lua", "--input", "s.json", "--delimiter", ";"],
            "error: --delimiter applies to CSV input only; name the file .csv or pass --format csv"
        ),
        (["replay"], "error: give either a dead-letter file or --spool PATH"),
        (["replay", "d.jsonl", "--spool", "s.sqlite"], "error: give either a dead-letter file or --spool PATH"),
        (
            ["replay", "--spool", "s.sqlite", "--run-id", "x"],
            "error: --run-id applies to a dead-letter file, not to --spool"
        ),
        (
            ["replay", "--spool", "s.sqlite", "--dry-run"],
            "error: --dry-run does not apply to --spool (replaying a spool only re-queues; serve delivers)"
        ),
    ])
    func badFlagCombinationsAreUsageErrorsSayingWhy(_ arguments: [String], _ message: String) throws {
        let refused = try #require(refusal(arguments), "\(arguments) parsed")
        #expect(refused.usage)
        #expect(refused.message.hasPrefix(message), "\(arguments): \(refused.message)")
    }

    @Test(arguments: [
        ["run", "r.lua", "in.csv", "--delimiter", ";"],
        ["run", "r.lua", "-", "--format", "csv", "--delimiter", "tab"],
        ["run", "r.lua", "list.json", "--records-path", "/data"],
        ["run", "r.lua", "in.jsonl", "--backoff-base", "0", "--backoff-cap", "0", "--drain-timeout", "0"],
        ["check", "r.lua", "--input", "s.csv", "--delimiter", "|"],
        ["replay", "d.jsonl", "--run-id", "a", "--run-id", "b", "--dry-run"],
        ["replay", "--spool", "s.sqlite", "--rules", "r.lua"],
        ["serve", "r.lua", "--port", "0"],
        ["mock-ingest", "--fail-rate", "1", "--latency-ms", "0"],
    ])
    func flagsAtTheirLimitsParse(_ arguments: [String]) {
        #expect(refusal(arguments) == nil, "\(arguments) was refused")
    }

    @Test func aMissingArgumentReadsErrorColonWithTheUsageAfterIt() throws {
        let refused = try #require(refusal(["run"]))
        #expect(refused.usage)
        #expect(refused.message.hasPrefix("error: missing expected argument '<rules.lua>'"), "\(refused.message)")
        #expect(refused.message.contains("Usage: encharge-lua run"), "\(refused.message)")
        #expect(!refused.message.contains("Error:"))
    }

    @Test func theRunFlagsBecomeTheJobsConfiguration() throws {
        let parsed = try EnchargeLua.parseAsRoot(["run", "r.lua", "a.csv", "b.csv", "--delimiter", ";", "--dry-run"])
        let run = try #require(parsed as? RunCommand)
        #expect(run.inputs == ["a.csv", "b.csv"])
        #expect(run.dryRun)
        #expect(run.inputFlags.delimiter == ";")
    }
}
