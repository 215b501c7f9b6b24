import Foundation
import TestSupport
import Testing

/// `init` through the built binary: the one thing in-process tests cannot show is the default
/// folder, the working directory, which a test process must not change.
@Suite struct InitEndToEndTests {
    // Needs a process: DIR defaults to the working directory, and there is no examples/ there.
    @Test func initWithoutAFolderWritesIntoTheWorkingDirectory() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let result = try Binary.run(["init", "--template", "signups"], directory: tmp.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("created rules.lua\ncreated README.md\n"))
        #expect(
            result.stdout.hasSuffix(
                "\nnext: encharge-lua test rules.lua; README.md says how to run it for real\n"))
        let written = try String(contentsOfFile: tmp.path + "/rules.lua", encoding: .utf8)
        let example = try String(contentsOfFile: Binary.packageRoot + "/examples/signups/rules.lua", encoding: .utf8)
        #expect(written == example)
        #expect(FileManager.default.fileExists(atPath: tmp.path + "/fixtures/registered.json"))
    }
}
