import EnchargeCommands
import SystemKit
import TestSupport

@testable import encharge_lua

/// The command line run in this process, exactly as the binary runs it (`EnchargeLua.run`), with
/// stdout and stderr kept in memory, a given environment and interrupts the test sends itself.
/// Paths are the test's to choose: nothing here changes the working directory.
struct InProcessCommandLine {
    /// What one command line did.
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String

        /// Standard output, line by line.
        var stdoutLines: [String] {
            stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        }
        /// Standard error, line by line.
        var stderrLines: [String] {
            stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        }
    }

    var environment: [String: String] = [:]
    let interrupts = Interrupts()

    /// Runs `encharge-lua ARGUMENTS`.
    func run(_ arguments: [String]) async -> Result {
        let stdout = OutputBuffer()
        let stderr = OutputBuffer()
        let context = CommandContext(
            stdout: stdout, stderr: stderr, environment: environment, interrupts: interrupts)
        let status = await EnchargeLua.run(arguments, context: context)
        return Result(status: status, stdout: stdout.text, stderr: stderr.text)
    }
}
