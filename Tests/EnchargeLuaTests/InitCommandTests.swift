import EnchargeCommands
import Foundation
import TestSupport
import Testing

/// `encharge-lua init`: each template is written byte for byte as examples/ holds it and passes
/// `encharge-lua test`, the copy the EmbedTemplates plugin embeds at build time is examples/ byte
/// for byte (tabs, trailing newlines and the executable bit included), nothing is ever overwritten,
/// and a missing or mistyped template is answered with the list of templates.
@Suite struct InitCommandTests {
    /// Every file under `folder`, by path relative to it (hidden files aside), as the EmbedTemplates plugin reads them.
    func files(under folder: String) throws -> [String] {
        let manager = FileManager.default
        let enumerator = try #require(manager.enumerator(atPath: folder))
        return enumerator.compactMap { $0 as? String }.filter { path in
            var isFolder: ObjCBool = false
            let hidden = path.split(separator: "/").contains { $0.hasPrefix(".") }
            return !hidden && manager.fileExists(atPath: folder + "/" + path, isDirectory: &isFolder)
                && !isFolder.boolValue
        }.sorted()
    }

    func isExecutable(_ path: String) throws -> Bool {
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        return try #require(permissions) & 0o100 != 0
    }

    @Test func theEmbeddedTemplatesAreTheExamplesByteForByte() throws {
        let examples = Binary.packageRoot + "/examples"
        let folders = try FileManager.default.contentsOfDirectory(atPath: examples).filter { !$0.hasPrefix(".") }
        // examples/swift-embedding is a Swift program, not a rule to start from.
        #expect(
            Set(folders).subtracting(["swift-embedding"]) == Set(RuleTemplate.all.map(\.name)),
            "every rule folder of examples/ is a template: list it, with a summary, in RuleTemplate.all")
        let fix = "the EmbedTemplates plugin (Sources/embed-templates) did not embed examples/ byte for byte"
        for template in RuleTemplate.all {
            let folder = examples + "/" + template.name
            #expect(template.files.map(\.path).sorted() == (try files(under: folder)), "\(template.name): \(fix)")
            for file in template.files {
                let path = folder + "/" + file.path
                guard let bytes = FileManager.default.contents(atPath: path) else { continue }
                let same = Array(bytes) == Array(file.contents.utf8)
                #expect(same, "\(template.name)/\(file.path): \(fix)")
                #expect(try isExecutable(path) == file.executable, "\(template.name)/\(file.path) mode: \(fix)")
            }
        }
    }

    @Test(arguments: RuleTemplate.all.map(\.name))
    func initWritesTheTemplateWhoseFixturesPass(name: String) async throws {
        try await TemporaryDirectory.with(prefix: "init") { tmp in
            let target = tmp.path + "/new/\(name)-rule"
            let result = await InProcessCommandLine().run(["init", target, "--template", name])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr == "")
            let template = try #require(RuleTemplate.named(name))
            #expect(
                result.stdoutLines
                    == template.files.map { "created \(target)/\($0.path)" } + [
                        "next: cd \(target) && encharge-lua test rules.lua; README.md says how to run it for real"
                    ])
            // What init wrote passes `encharge-lua test`, every fixture of it.
            let fixtures = template.files.filter { $0.path.hasPrefix("fixtures/") }.count
            #expect(fixtures >= 4)
            let test = await InProcessCommandLine().run(["test", target + "/rules.lua"])
            #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
            #expect(test.stdoutLines.last == "\(fixtures) passed, 0 failed")
            #expect(test.stdoutLines.filter { $0.hasPrefix("ok ") }.count == fixtures)

            let example = Binary.packageRoot + "/examples/" + name
            #expect(try files(under: target) == (try files(under: example)))
            for path in try files(under: example) {
                #expect(
                    FileManager.default.contents(atPath: target + "/" + path)
                        == FileManager.default.contents(atPath: example + "/" + path), "\(path)")
                #expect(try isExecutable(target + "/" + path) == (try isExecutable(example + "/" + path)), "\(path)")
            }
        }
    }

    @Test func aTrailingSlashOnTheFolderIsNotDoubled() async throws {
        try await TemporaryDirectory.with(prefix: "init") { tmp in
            let result = await InProcessCommandLine().run(["init", tmp.path + "/", "--template", "form"])
            #expect(result.status == 0)
            #expect(result.stdoutLines.first == "created \(tmp.path)/rules.lua")
            #expect(result.stdoutLines.last?.hasPrefix("next: cd \(tmp.path) && encharge-lua test rules.lua") == true)
        }
    }

    @Test func aFolderWithASpaceIsQuotedInTheCommandToRunNext() async throws {
        try await TemporaryDirectory.with(prefix: "init") { tmp in
            let result = await InProcessCommandLine().run(["init", tmp.path + "/Ann's rule", "--template", "github"])
            #expect(result.status == 0)
            #expect(
                result.stdoutLines.last
                    == "next: cd '\(tmp.path)/Ann'\\''s rule' && encharge-lua test rules.lua; README.md says how to run it for real"
            )
        }
    }

    @Test func initRefusesToOverwriteAndWritesNothing() async throws {
        try await TemporaryDirectory.with(prefix: "init") { tmp in
            _ = try tmp.write("README.md", "my own notes\n")
            let result = await InProcessCommandLine().run(["init", tmp.path, "--template", "github"])
            #expect(result.status == 2)
            #expect(result.stdout == "")
            #expect(
                result.stderr
                    == "error: \(tmp.path)/README.md already exists; init never overwrites a file, so choose a new folder (encharge-lua init my-rule --template github) or move the file away\n"
            )
            #expect(try files(under: tmp.path) == ["README.md"], "nothing else is written, not even fixtures/")
            #expect(try String(contentsOfFile: tmp.path + "/README.md", encoding: .utf8) == "my own notes\n")

            // With several taken, the first is named and the rest counted; still nothing is written.
            _ = try tmp.write("rules.lua", "-- mine\n")
            let again = await InProcessCommandLine().run(["init", tmp.path, "--template", "github"])
            #expect(again.status == 2)
            #expect(
                again.stderr
                    == "error: \(tmp.path)/rules.lua (and 1 more of the template's files) already exist; init never overwrites a file, so choose a new folder (encharge-lua init my-rule --template github) or move the file away\n"
            )
            #expect(try files(under: tmp.path) == ["README.md", "rules.lua"])
        }
    }

    @Test func initRefusesAFileWhereItsFolderWouldGo() async throws {
        try await TemporaryDirectory.with(prefix: "init") { tmp in
            let file = try tmp.write("taken", "")
            let result = await InProcessCommandLine().run(["init", file, "--template", "signups"])
            #expect(result.status == 2)
            #expect(
                result.stderr
                    == "error: \(file) exists and is not a folder; give init a folder to write into (encharge-lua init my-rule --template signups)\n"
            )
        }
    }

    @Test func aFolderThatCannotBeMadeIsReportedAndNothingIsWritten() async throws {
        try await TemporaryDirectory.with(prefix: "init") { tmp in
            let file = try tmp.write("taken", "")
            let result = await InProcessCommandLine().run(["init", file + "/rule", "--template", "stripe"])
            #expect(result.status == 2)
            #expect(
                result.stderr
                    == "error: cannot create the folder \(file)/rule: Not a directory; choose a folder you can write to\n"
            )
            #expect(try files(under: tmp.path) == ["taken"])
        }
    }

    @Test func initWithoutATemplateListsThem() async {
        let result = await InProcessCommandLine().run(["init", "/nonexistent/never-written"])
        #expect(result.status == 2)
        #expect(
            result.stderrLines.first
                == "error: --template is required: choose signups, stripe, github, shopify or form (see init --help)")
        #expect(!FileManager.default.fileExists(atPath: "/nonexistent/never-written"))
    }

    @Test func anUnknownTemplateIsNamedWithTheClosestOne() async {
        let result = await InProcessCommandLine().run(["init", "/nonexistent/never-written", "--template", "strpe"])
        #expect(result.status == 2)
        #expect(
            result.stderrLines.first
                == "error: there is no template 'strpe'; choose signups, stripe, github, shopify or form (did you mean stripe?)"
        )
    }
}
