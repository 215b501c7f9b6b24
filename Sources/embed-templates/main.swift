import Foundation

// embed-templates EXAMPLES OUTPUT TEMPLATE/PATH...
//
// Run by the EmbedTemplates build plugin: writes OUTPUT, the Swift source of
// `RuleTemplate.embeddedFiles`, holding each listed file of EXAMPLES byte for byte (as an escaped
// string literal) with its executable bit, keyed by template folder, `rules.lua` and `README.md`
// first and the fixtures last.

/// One file of a template, as the generated table holds it.
struct TemplateFile {
    var template: String
    var path: String
    var text: String
    var executable: Bool

    /// `rules.lua`, then `README.md`, then the folder's other files, then those in subfolders.
    var rank: Int {
        switch path {
        case "rules.lua": 0
        case "README.md": 1
        default: path.contains("/") ? 3 : 2
        }
    }
}

/// Stops the build with `message`, which names the file and what to do.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("embed-templates: \(message)\n".utf8))
    exit(1)
}

/// A Swift string literal whose value is exactly `text`: quotes, backslashes and every control
/// character escaped, so tabs, carriage returns and trailing newlines survive.
func literal(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\\": result += "\\\\"
        case "\"": result += "\\\""
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        case "\r": result += "\\r"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            result += "\\u{" + String(scalar.value, radix: 16) + "}"
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

func read(_ entry: String, in examples: String) -> TemplateFile {
    let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
    guard parts.count == 2 else { fail("\(entry) is not TEMPLATE/PATH; the EmbedTemplates plugin passes those") }
    let full = examples + "/" + entry
    guard let data = FileManager.default.contents(atPath: full) else {
        fail("cannot read \(full); check that it exists and is readable")
    }
    guard let text = String(validating: Array(data), as: UTF8.self) else {
        fail("\(full) is not UTF-8 text; a template holds text files only, so save it as UTF-8")
    }
    let permissions = (try? FileManager.default.attributesOfItem(atPath: full)[.posixPermissions]) as? Int ?? 0
    return TemplateFile(template: parts[0], path: parts[1], text: text, executable: permissions & 0o100 != 0)
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else { fail("usage: embed-templates EXAMPLES OUTPUT TEMPLATE/PATH...") }
let files = arguments.dropFirst(3).map { read($0, in: arguments[1]) }
let templates = Dictionary(grouping: files, by: \.template).sorted { $0.key < $1.key }
var source = """
    // Generated at build time from examples/ by the EmbedTemplates plugin (Sources/embed-templates).

    extension RuleTemplate {
        /// Every file of each template folder of examples/, byte for byte, keyed by folder name.
        static let embeddedFiles: [String: [File]] = [

    """
for (template, files) in templates {
    source += "        \(literal(template)): [\n"
    let ordered = files.sorted { ($0.rank, $0.path) < ($1.rank, $1.path) }
    for file in ordered {
        source += "            File(path: \(literal(file.path)), executable: \(file.executable), "
        source += "contents: \(literal(file.text))),\n"
    }
    source += "        ],\n"
}
source += "    ]\n}\n"
do {
    try Data(source.utf8).write(to: URL(filePath: arguments[2]), options: .atomic)
} catch {
    fail("cannot write \(arguments[2]): \(error)")
}
