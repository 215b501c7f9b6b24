import ArgumentParser
import EnchargeCommands
import SystemKit

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
        discussion: """
            Each command's --help lists its flags, its exit codes and examples.

            EXIT CODES
              0    success
              1    some records or entries failed, or events were dead-lettered
              2    usage, configuration, input or rule-load error
              130  interrupted (Ctrl-C or SIGTERM)

            EXAMPLES
              encharge-lua init my-rule --template signups
              encharge-lua test rules.lua
              encharge-lua run rules.lua signups.jsonl --dry-run
              encharge-lua check rules.lua --input signups.csv --trace
              encharge-lua diff deployed.lua rules.lua --input signups.jsonl
              ENCHARGE_WRITE_KEY=... encharge-lua serve rules.lua --port 8080
              encharge-lua deliver --spool postgres://encharge@db/encharge
              encharge-lua replay dead-letter.jsonl --rules rules.lua
              encharge-lua mock-ingest --port 8089 --record received.jsonl
            """,
        version: enchargeLuaVersion,
        subcommands: [
            RunCommand.self, ServeCommand.self, DeliverCommand.self, CheckCommand.self, TestCommand.self,
            ReplayCommand.self,
            MockIngestCommand.self, DiffCommand.self, InitCommand.self,
        ])

    /// Usage errors exit 2 (not ArgumentParser's 64), as the README's exit codes say, and every
    /// error reads `error: ...` like the tool's other messages (not ArgumentParser's `Error: `).
    static func main() async {
        Glibc.exit(await run(Array(CommandLine.arguments.dropFirst()), context: .process()))
    }

    /// Runs one command line against `context`, as the binary does, and returns the exit status:
    /// help and `--version` go to the context's stdout, every error to its stderr as `error: ...`.
    static func run(_ arguments: [String], context: CommandContext) async -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            if let contextual = command as? any ContextCommand {
                try await contextual.run(context: context)
            } else if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            // Help and --version are the output asked for; a bare ExitCode has said its piece.
            guard code != .success, !message.isEmpty else {
                if !message.isEmpty { context.stdout.write(message + "\n") }
                return code.rawValue
            }
            context.diagnostics.write(styled(message))
            return code == .validationFailure ? 2 : code.rawValue
        }
    }

    /// ArgumentParser's `Error: Missing ...` as `error: missing ...`; the usage lines stay.
    static func styled(_ message: String) -> String {
        guard message.hasPrefix("Error: ") else { return "error: " + message }
        var rest = message.dropFirst("Error: ".count)
        if let first = rest.first, first.isUppercase, rest.dropFirst().first?.isLowercase == true {
            rest = Substring(first.lowercased() + rest.dropFirst())
        }
        return "error: " + rest
    }
}
