import Foundation
import TestSupport
import Testing

/// The README says what the tool does: its quick start quotes the example as it is and the output
/// the command prints, its "Developing a rule" what init, test, --trace and diff print, and it names
/// no file the repository lacks. Its sections come in the agreed order (issue 9's, with issue 10's
/// "Developing a rule" after the quick start), and each command's page in docs/ covers every flag
/// its `--help` lists.
@Suite struct ReadmeTests {
    let readme: String

    init() throws {
        readme = try String(contentsOfFile: Binary.packageRoot + "/README.md", encoding: .utf8)
    }

    /// The text of the first fenced block after `marker` (or of a later one, past `skipping`
    /// blocks), with the list's indentation removed.
    func block(after marker: String, skipping: Int = 0) throws -> [String] {
        let start = try #require(readme.range(of: marker))
        var rest = readme[start.upperBound...]
        for _ in 0..<skipping {
            let open = try #require(rest.range(of: "```"))
            let close = try #require(rest[open.upperBound...].range(of: "```"))
            rest = rest[close.upperBound...]
        }
        let open = try #require(rest.range(of: "```"))
        let afterFence = rest[open.upperBound...].drop { $0 != "\n" }.dropFirst()
        let close = try #require(afterFence.range(of: "```"))
        return afterFence[..<close.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map { $0.hasPrefix("   ") ? String($0.dropFirst(3)) : String($0) }
    }

    @Test func theQuickStartShowsTheExampleRuleAsItIs() throws {
        let shown = try block(after: "1. Look at the example rule").joined(separator: "\n")
        let rule = try String(contentsOfFile: Binary.packageRoot + "/examples/signups/rules.lua", encoding: .utf8)
        #expect(shown.count > 500)
        #expect(rule.contains(shown), "the quick start's rule is not a verbatim part of examples/signups/rules.lua")
    }

    @Test func theQuickStartQuotesWhatTheDryRunPrints() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        try FileManager.default.createDirectory(atPath: tmp.path + "/examples", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Binary.packageRoot + "/examples/signups", toPath: tmp.path + "/examples/signups")
        let command = "encharge-lua run examples/signups/rules.lua examples/signups/signups.jsonl --dry-run"
        #expect(readme.contains(command))
        let arguments = command.split(separator: " ").dropFirst().map(String.init)
        let result = try Binary.run(arguments, directory: tmp.path)
        let rate = /in [0-9.]+ s \([0-9]+ records\/s\)/
        let printed = result.stderr.split(separator: "\n").map { String($0).replacing(rate, with: "in T") }
        let quoted = try block(after: "stderr names it in compiler form").map { $0.replacing(rate, with: "in T") }
        #expect(printed == quoted)
    }

    /// The loop of "Developing a rule", run as the README says, prints what the README quotes (the
    /// rule's log lines, on stderr, interleaved as a terminal shows them).
    @Test func theDevelopingLoopQuotesWhatInitTestTraceAndDiffPrint() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }
        func isLog(_ line: String) -> Bool { line.contains(": info: ") }

        let initialized = try Binary.run(["init", "signups-rule", "--template", "signups"], directory: tmp.path)
        #expect(lines(initialized.stdout) == (try block(after: "1. Start from a template", skipping: 1)))
        let folder = tmp.path + "/signups-rule"
        let rule = try String(contentsOfFile: folder + "/rules.lua", encoding: .utf8)
        try FileManager.default.copyItem(atPath: folder + "/rules.lua", toPath: folder + "/deployed.lua")
        let edit = "local TRIAL_DAYS = tonumber(encharge.settings.trial_days) or 30"
        #expect(readme.contains(edit))
        let edited = rule.replacingOccurrences(
            of: "local TRIAL_DAYS = tonumber(encharge.settings.trial_days) or 14\n", with: edit + "\n")
        #expect(edited != rule)
        try edited.write(toFile: folder + "/rules.lua", atomically: true, encoding: .utf8)

        let test = try Binary.run(["test", "rules.lua"], directory: folder)
        #expect(test.status == 1)
        let testBlock = try block(after: "3. Run the fixtures", skipping: 1)
        #expect(lines(test.stdout) == testBlock.filter { !isLog($0) })
        #expect(lines(test.stderr) == testBlock.filter(isLog))

        let trace = try Binary.run(
            ["test", "rules.lua", "fixtures/account-deleted.json", "--trace"], directory: folder)
        #expect(
            lines(trace.stderr) + lines(trace.stdout) == (try block(after: "4. See which line made what", skipping: 1)))

        let diff = try Binary.run(["diff", "deployed.lua", "rules.lua", "--input", "signups.csv"], directory: folder)
        let diffBlock = try block(after: "5. Before deploying", skipping: 1)
        #expect(lines(diff.stdout) == diffBlock.filter { !isLog($0) })
        #expect(lines(diff.stderr) == diffBlock.filter(isLog))
    }

    @Test func theReadmeNamesOnlyFilesTheRepositoryHas() throws {
        #expect(!readme.contains("DESIGN.md"))
        let path = /(?:examples|docs|scripts)\/[A-Za-z0-9_.\/-]*[A-Za-z0-9_]/
        for match in readme.matches(of: path) {
            let file = String(match.output)
            #expect(FileManager.default.fileExists(atPath: Binary.packageRoot + "/" + file), "\(file)")
        }
    }

    @Test func theReadmeSectionsComeInTheAgreedOrder() {
        let headings = readme.split(separator: "\n").filter { $0.hasPrefix("## ") }.map { String($0.dropFirst(3)) }
        let agreed = [
            "Requirements and install", "Set-up (two commands)", "Quick start (five minutes)", "Developing a rule",
            "The Lua API", "Commands", "More",
        ]
        #expect(headings == agreed)
        #expect(readme.contains("install -m 755 .build/release/encharge-lua /usr/local/bin/"))
        for package in ["liblua5.4-dev", "libcurl4-openssl-dev"] {
            #expect(readme.contains(package))
        }
    }

    /// The pages whose relative links must lead to files.
    static let pages = [
        "README.md", "ARCHITECTURE.md", "docs/run.md", "docs/check.md", "docs/test.md", "docs/diff.md",
        "docs/replay.md", "docs/serve.md", "docs/mock-ingest.md", "docs/benchmarks.md", "docs/init.md",
        "docs/deliver.md", "docs/scaling.md",
    ]

    /// Every relative link of the README, ARCHITECTURE.md and the pages in docs/ leads to a file.
    @Test(arguments: pages)
    func relativeLinksLeadToFiles(page: String) throws {
        let text = try String(contentsOfFile: Binary.packageRoot + "/" + page, encoding: .utf8)
        let folder = (page as NSString).deletingLastPathComponent
        let link = /\]\(([^)#:\s]+)(?:#[^)]*)?\)/
        for match in text.matches(of: link) {
            let path = Binary.packageRoot + "/" + folder + "/" + String(match.output.1)
            let target = (path as NSString).standardizingPath
            #expect(FileManager.default.fileExists(atPath: target), "\(page): \(match.output.1)")
        }
    }

    /// The full flag reference lives in docs/: each page names every flag of its command's `--help`.
    /// Each command with the fewest flags its `--help` lists, so that a help the pattern no longer
    /// reads fails rather than passing with nothing checked.
    @Test(arguments: [
        ("run", 10), ("check", 10), ("test", 5), ("diff", 5), ("replay", 10), ("serve", 10), ("mock-ingest", 10),
        ("init", 1), ("deliver", 10),
    ])
    func theCommandsPageNamesEveryFlagOfItsHelp(command: String, fewestFlags: Int) throws {
        let page = try String(contentsOfFile: Binary.packageRoot + "/docs/\(command).md", encoding: .utf8)
        let help = try Binary.run([command, "--help"])
        #expect(help.status == 0)
        let option = /^ {2}(?:-[a-z], )?(--[a-z][a-z0-9-]*)/
        let flags = help.stdout.split(separator: "\n").compactMap { line in
            (try? option.prefixMatch(in: line)).flatMap { $0 }.map { String($0.output.1) }
        }.filter { $0 != "--help" && $0 != "--version" }
        #expect(flags.count >= fewestFlags)
        for flag in flags {
            let named = try Regex(NSRegularExpression.escapedPattern(for: flag) + "(?![a-z0-9-])")
            #expect(page.contains(named), "docs/\(command).md does not name \(flag)")
        }
    }

    @Test func theReadmeSaysWhatTheIngestAPIDoesNotTake() {
        #expect(readme.contains("the Ingest API takes no event timestamp"))
        #expect(readme.contains("drops **every** event of the record"))
        #expect(!readme.contains("clears a field in Encharge"))
    }
}
