import Foundation
import TestSupport
import Testing

/// A rule's long log message, in process as the binary prints it: cut, with what was left out counted.
@Suite struct LogMessageCapTests {
    /// How Lua names the chunk loaded from `path` in a location: the path, or `...` and its last
    /// 56 characters when it is longer than 59 (`LUA_IDSIZE`). The binary test ran in the rule's
    /// directory and named it `rules.lua`; this one names it by its full path.
    func chunkName(_ path: String) -> String { path.count <= 59 ? path : "..." + path.suffix(56) }

    @Test func longMessagesAreCappedWithTheCountLeftOut() async throws {
        try await TemporaryDirectory.with(prefix: "cli") { tmp in
            let rules = try tmp.write("rules.lua", "function on_record(r) log.info(string.rep(\"a\", 10000)) end")
            let input = try tmp.write("in.jsonl", "{}\n")
            let result = await InProcessCommandLine().run(["run", rules, input, "--dry-run"])
            let location = "(\(chunkName(rules)):1)"
            let line = try #require(result.stderrLines.first { $0.contains("aaaa") })
            #expect(line.utf8.count < 4200)
            // Issue 8: a log line keeps its rule line after the cut (it used to be cut off with the rest).
            #expect(line.hasSuffix(" bytes more) \(location)"))
            // What was cut is counted exactly: the 10,000 bytes less those shown.
            #expect(line.hasPrefix("\(input):1: info: aaa"))
            let shown = line.dropFirst("\(input):1: info: ".count).prefix { $0 == "a" }.count
            #expect(line.hasSuffix("… (\(10000 - shown) bytes more) \(location)"), "\(line.suffix(60))")
        }
    }
}
