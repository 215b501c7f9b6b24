import Foundation
import TestSupport
import Testing

/// `embed-templates`, the tool the EmbedTemplates build plugin runs to embed examples/ in
/// `encharge-lua init`: a program of its own, so it runs as a process. InitCommandTests show that
/// the examples come out byte for byte; these show the escaping on what the examples may not hold
/// today (tabs, carriage returns, quotes and backslashes, control characters, no trailing newline,
/// an empty file) and the order and modes of the table.
@Suite struct EmbedTemplatesEndToEndTests {
    static let tool = Binary.besideBinary("embed-templates")

    @Test func everyByteIsEscapedIntoTheTableInTemplateOrder() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        try FileManager.default.createDirectory(atPath: tmp.file("t/fixtures"), withIntermediateDirectories: true)
        _ = try tmp.write("t/rules.lua", "a\tb\r\nc\\d\"e\"\"\"#\\#(x)\u{1}\u{7F} é \\u{41}\n\n")
        _ = try tmp.write("t/README.md", "no trailing newline\t")
        _ = try tmp.write("t/fixtures/empty.json", "")
        let script = try tmp.write("t/send-sample.sh", "#!/bin/sh\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let output = tmp.file("out.swift")
        let result = try Binary.run(
            [tmp.path, output, "t/fixtures/empty.json", "t/send-sample.sh", "t/README.md", "t/rules.lua"],
            executable: Self.tool)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == "")
        let escaped = ##""a\tb\r\nc\\d\"e\"\"\"#\\#(x)\u{1}\u{7f} é \\u{41}\n\n""##
        #expect(
            tmp.read("out.swift") == """
                // Generated at build time from examples/ by the EmbedTemplates plugin (Sources/embed-templates).

                extension RuleTemplate {
                    /// Every file of each template folder of examples/, byte for byte, keyed by folder name.
                    static let embeddedFiles: [String: [File]] = [
                        "t": [
                            File(path: "rules.lua", executable: false, contents: \(escaped)),
                            File(path: "README.md", executable: false, contents: "no trailing newline\\t"),
                            File(path: "send-sample.sh", executable: true, contents: "#!/bin/sh\\n"),
                            File(path: "fixtures/empty.json", executable: false, contents: ""),
                        ],
                    ]
                }

                """)
    }

    @Test func aFileThatIsNotUTF8StopsTheBuildNamingIt() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        try FileManager.default.createDirectory(atPath: tmp.file("t"), withIntermediateDirectories: true)
        _ = try tmp.write("t/logo.png", bytes: [0x89, 0x50, 0xFF, 0xFE])
        let result = try Binary.run([tmp.path, tmp.file("out.swift"), "t/logo.png"], executable: Self.tool)
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "embed-templates: \(tmp.path)/t/logo.png is not UTF-8 text; a template holds text files only, so save it as UTF-8\n"
        )
        #expect(!FileManager.default.fileExists(atPath: tmp.file("out.swift")))
    }
}
