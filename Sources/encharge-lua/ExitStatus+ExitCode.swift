import ArgumentParser
import EnchargeCommands
import EnchargeRules
import EnchargeSpool
import MockIngest
import WebhookServer

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

    /// Runs `serve` or `mock-ingest` until it stops. A server that cannot start (a rule that does not
    /// load, a port in use, a spool another serve owns, an unwritable `--record` file) is a
    /// configuration error: printed, exit 2. Any other failure while serving is printed as
    /// `error: NAME stopped: ...` with exit 1 when `stoppedAs` names the server, else passed on.
    func serving(stoppedAs name: String? = nil, _ server: () async throws -> Void) async throws {
        do {
            try await server()
        } catch {
            let cannotStart: String? =
                switch error {
                case let error as RuleLoadError: error.description
                case let error as WebhookServerError: error.description
                case let error as SpoolError: error.description
                case let error as MockIngestError: error.message
                default: nil
                }
            if let cannotStart {
                diagnostics.write("error: \(cannotStart)")
                try ExitStatus.usage.exit()
            }
            guard let name else { throw error }
            diagnostics.write("error: \(name) stopped: \(error)")
            throw ExitCode.failure
        }
    }
}
