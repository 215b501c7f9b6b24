import Foundation
import PackagePlugin

/// Embeds the rule templates in `EnchargeCommands` at build time: every file of each template
/// folder of examples/ becomes `RuleTemplate.embeddedFiles`, written by the `embed-templates` tool,
/// so `encharge-lua init` works from an installed binary and examples/ stays the only copy. Each
/// file is an input of the command, so an edit rebuilds the table; a file added or removed changes
/// the tree under `encharge-embedding-example`'s root (examples/), so SwiftPM re-plans and runs
/// this plugin again.
@main struct EmbedTemplates: BuildToolPlugin {
    /// The folder of examples/ that is not a template: a Swift program, not a rule to start from.
    static let notTemplates: Set<String> = ["swift-embedding"]

    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let examples = context.package.directoryURL.appending(path: "examples")
        let files = try Self.templateFiles(in: examples)
        let output = context.pluginWorkDirectoryURL.appending(path: "RuleTemplate+Files.swift")
        return [
            .buildCommand(
                displayName: "Embedding the \(files.count) files of the templates in examples/",
                executable: try context.tool(named: "embed-templates").url,
                arguments: [examples.path(percentEncoded: false), output.path(percentEncoded: false)] + files,
                inputFiles: files.map { examples.appending(path: $0) },
                outputFiles: [output])
        ]
    }

    /// `template/path` of every regular file in the template folders of `examples`, hidden files
    /// and folders aside.
    static func templateFiles(in examples: URL) throws -> [String] {
        let manager = FileManager.default
        let root = examples.path(percentEncoded: false)
        let templates = try manager.contentsOfDirectory(atPath: root).filter { name in
            var isFolder: ObjCBool = false
            return !name.hasPrefix(".") && !notTemplates.contains(name)
                && manager.fileExists(atPath: root + "/" + name, isDirectory: &isFolder) && isFolder.boolValue
        }
        return try templates.sorted().flatMap { template in
            try manager.subpathsOfDirectory(atPath: root + "/" + template).sorted().compactMap { path in
                var isFolder: ObjCBool = false
                let hidden = path.split(separator: "/").contains { $0.hasPrefix(".") }
                let full = root + "/" + template + "/" + path
                guard !hidden, manager.fileExists(atPath: full, isDirectory: &isFolder), !isFolder.boolValue else {
                    return nil
                }
                return template + "/" + path
            }
        }
    }
}
