import ArgumentParser
import EnchargeRules

#if canImport(Glibc)
import Glibc
#endif

/// The version sent in `User-Agent` and printed by `--version`.
let enchargeLuaVersion = "0.1.0"

@main
struct EnchargeLua: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encharge-lua",
        abstract: "Turn your own records and webhooks into Encharge events with a few lines of Lua.",
        version: enchargeLuaVersion,
        subcommands: [RunCommand.self, ServeCommand.self, CheckCommand.self, ReplayCommand.self, MockIngestCommand.self])

    /// Usage errors exit 2 (not ArgumentParser's 64), as the README's exit codes say.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                let message = fullMessage(for: error)
                Diagnostics.write(message)
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// A failure already reported on stderr; ends the process with `code`.
struct Exit: Error {
    let code: Int32
}
