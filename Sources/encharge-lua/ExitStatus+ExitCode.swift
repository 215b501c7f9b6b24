import ArgumentParser
import EnchargeCommands
import EnchargeRules

extension ExitStatus {
    /// Ends the command with this status: returns for success, else throws the exit code.
    func exit() throws {
        if self != .success { throw ExitCode(rawValue) }
    }
}

extension CommandContext {
    /// What `make` builds from the flags; a configuration error (a missing write key, a bad
    /// settings file) is printed as `error: ...` and ends the command with exit code 2.
    func configured<Value>(_ make: () throws(RuleLoadError) -> Value) throws -> Value {
        do { return try make() } catch {
            diagnostics.write("error: \(error.description)")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
    }
}
