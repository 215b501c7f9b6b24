import SystemKit

#if canImport(Glibc)
import Glibc
#endif

/// What a job may reach outside itself, handed in rather than taken from globals (swiftly's
/// `SwiftlyCoreContext`): where its output and diagnostics go, the environment it reads and the
/// interrupts it obeys. A command builds `process()`; a test builds one with buffer writers, a
/// fake environment and `Interrupts` it sets itself.
package struct CommandContext: Sendable {
    /// Where events go on a dry run (and `check --input`).
    package var stdout: any OutputWriter
    /// Where diagnostics, the summary and the progress line go.
    package var stderr: any OutputWriter
    /// Whether `stderr` is a terminal, so the live progress line may be drawn there.
    package var stderrIsTerminal: Bool
    /// `ENCHARGE_WRITE_KEY`, `ENCHARGE_ENDPOINT` and the like.
    package var environment: [String: String]
    /// SIGINT/SIGTERM, or what a test sends in their place.
    package var interrupts: Interrupts

    package init(
        stdout: any OutputWriter, stderr: any OutputWriter, stderrIsTerminal: Bool = false,
        environment: [String: String] = [:], interrupts: Interrupts = Interrupts()
    ) {
        self.stdout = stdout
        self.stderr = stderr
        self.stderrIsTerminal = stderrIsTerminal
        self.environment = environment
        self.interrupts = interrupts
    }

    /// The real process: standard output and error, its environment, SIGINT/SIGTERM.
    package static func process() -> CommandContext {
        CommandContext(
            stdout: FileDescriptorWriter.standardOutput, stderr: FileDescriptorWriter.standardError,
            stderrIsTerminal: isatty(2) != 0, environment: processEnvironment(), interrupts: .signalDriven())
    }

    /// The process's environment variables.
    package static func processEnvironment() -> [String: String] {
        var environment: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "=") {
                environment[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        return environment
    }

    /// Lines for people on `stderr`, escaped and capped.
    package var diagnostics: DiagnosticsPrinter { DiagnosticsPrinter(writer: stderr) }
}
