import EnchargeCommands
import Foundation

/// A job's context with in-memory stdout and stderr, a fake environment and interrupts the test
/// sends itself.
struct JobHarness {
    let stdout = BufferWriter()
    let stderr = BufferWriter()
    let interrupts = Interrupts()
    let directory: ScratchDirectory

    init() throws { directory = try ScratchDirectory() }

    func context(environment: [String: String] = [:], terminal: Bool = false) -> CommandContext {
        CommandContext(
            stdout: stdout, stderr: stderr, stderrIsTerminal: terminal, environment: environment,
            interrupts: interrupts)
    }

    /// Standard error, one entry per line.
    var stderrLines: [String] { stderr.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }

    /// Standard output, one entry per line (no trailing empty one).
    var stdoutLines: [String] { stdout.text.split(separator: "\n").map(String.init) }

    func file(_ name: String, _ text: String) throws -> String { try directory.file(name, text) }
}
