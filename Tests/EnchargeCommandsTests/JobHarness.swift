import EnchargeCommands
import SystemKit
import TestSupport

/// A job's context with in-memory stdout and stderr, a fake environment and interrupts the test
/// sends itself, and a temporary directory for its files (removed by `cleanup()`).
struct JobHarness {
    let stdout = OutputBuffer()
    let stderr = OutputBuffer()
    let interrupts = Interrupts()
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory(prefix: "commands") }

    func cleanup() { directory.cleanup() }

    func context(environment: [String: String] = [:], terminal: Bool = false) -> CommandContext {
        CommandContext(
            stdout: stdout, stderr: stderr, stderrIsTerminal: terminal, environment: environment,
            interrupts: interrupts)
    }

    /// Standard error, line by line.
    var stderrLines: [String] { stderr.lines }

    /// Standard output, line by line.
    var stdoutLines: [String] { stdout.lines }

    func file(_ name: String, _ text: String) throws -> String { try directory.write(name, text) }
}
