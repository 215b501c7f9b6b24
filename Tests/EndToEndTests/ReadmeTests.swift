import Foundation
import Testing

/// The README says what the tool does: its quick start quotes the example as it is and the output
/// the command prints, and it names no file the repository lacks.
@Suite struct ReadmeTests {
    let readme: String

    init() throws {
        readme = try String(contentsOfFile: Binary.packageRoot + "/README.md", encoding: .utf8)
    }

    /// The text of the first fenced block after `marker`, with the list's indentation removed.
    func block(after marker: String) throws -> [String] {
        let start = try #require(readme.range(of: marker))
        let rest = readme[start.upperBound...]
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
        let result = try Binary.run(Array(command.split(separator: " ").dropFirst().map(String.init)), directory: tmp.path)
        let rate = /in [0-9.]+ s \([0-9]+ records\/s\)/
        let printed = result.stderr.split(separator: "\n").map { String($0).replacing(rate, with: "in T") }
        let quoted = try block(after: "stderr names it in compiler form").map { $0.replacing(rate, with: "in T") }
        #expect(printed == quoted)
    }

    @Test func theReadmeNamesOnlyFilesTheRepositoryHas() throws {
        #expect(!readme.contains("DESIGN.md"))
        let path = /(?:examples|docs|scripts)\/[A-Za-z0-9_.\/-]*[A-Za-z0-9_]/
        for match in readme.matches(of: path) {
            let file = String(match.output)
            #expect(FileManager.default.fileExists(atPath: Binary.packageRoot + "/" + file), "\(file)")
        }
    }

    @Test func theReadmeSaysWhatTheIngestAPIDoesNotTake() {
        #expect(readme.contains("the Ingest API takes no event timestamp"))
        #expect(readme.contains("drops **every** event of the record"))
        #expect(!readme.contains("clears a field in Encharge"))
    }
}
