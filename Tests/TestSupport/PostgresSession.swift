import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A `psql` process that stays connected to a database of a `PostgresCluster` and runs what it is
/// sent, for tests that need a session to hold locks (as another process of the spool would) and
/// then freeze it (`SIGSTOP`) or end it.
public final class PostgresSession: @unchecked Sendable {
    // Invariant: `process` and `input` are set once in `init`; Process and FileHandle are safe to
    // signal and write from any thread.
    private let process: Process
    private let input: FileHandle

    /// Starts `psql` on `database`; its output is dropped.
    public init(cluster: PostgresCluster, database: String) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["PGPASSWORD"] = cluster.password
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cluster.binaries + "/psql")
        process.arguments = [
            "--no-psqlrc", "--quiet", "--host=\(cluster.host)", "--port=\(cluster.port)",
            "--username=\(PostgresCluster.user)", "--dbname=\(database)",
        ]
        process.environment = environment
        let pipe = Pipe()
        process.standardInput = pipe
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        input = pipe.fileHandleForWriting
    }

    deinit { end() }

    /// Sends `statements` (each ending with `;`) for the session to run in order.
    public func send(_ statements: String) throws {
        try input.write(contentsOf: Data((statements + "\n").utf8))
    }

    /// Freezes the `psql` process (`SIGSTOP`), as a stopped or hung holder: its server backend stays.
    public func freeze() { kill(process.processIdentifier, SIGSTOP) }

    /// Kills the `psql` process (thawed first, so it can die) and waits for it.
    public func end() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        kill(process.processIdentifier, SIGCONT)
        process.waitUntilExit()
    }
}
