import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A throwaway PostgreSQL cluster for tests: `initdb` in a temporary folder (run as the unprivileged
/// `postgres` user when the tests run as root, since initdb refuses root), `postgres` on 127.0.0.1
/// at a free port and on a Unix socket in that folder, one password-protected superuser. `stop()`
/// shuts it down and removes the folder; a watchdog process does the same should the test process
/// die first. Each test takes a fresh database (`createDatabase()`), so suites can share the one
/// cluster of a test process (`shared()`), which is stopped when the process exits.
public final class PostgresCluster: @unchecked Sendable {
    // Invariant: every stored property is set once in `init`; `server` and `watchdog` are only
    // signalled and waited on (Process is thread-safe for that), and `stop()` runs its body once
    // (guarded by `stopped`).

    /// What went wrong starting the cluster or running SQL in it, with what the tool printed.
    public struct Failure: Error, CustomStringConvertible {
        /// One sentence, then the tool's output.
        public let description: String
    }

    /// The superuser's name.
    public static let user = "encharge"
    /// The loopback address the cluster listens on.
    public let host = "127.0.0.1"
    /// The TCP port the cluster listens on.
    public let port: Int
    /// The superuser's password (spool code takes it from `PGPASSWORD`: see `environment`).
    public let password: String
    /// The temporary folder holding the data directory, the socket, the password file and the log.
    public let folder: String
    /// The folder of the Unix socket `.s.PGSQL.PORT`.
    public var socketDirectory: String { folder }
    /// The password file (one line, the password), what `--spool-password-file` takes.
    public var passwordFile: String { folder + "/password" }
    /// The folder of `initdb`, `postgres` and `psql`.
    public let binaries: String
    private let server: Process
    private let watchdog: Process
    private let stopped = Mutex(false)

    /// The environment a process connecting to the cluster needs: `PGPASSWORD`.
    public var environment: [String: String] { ["PGPASSWORD": password] }

    /// The URL of `database`, without the password: `postgres://encharge@127.0.0.1:PORT/DATABASE`.
    public func url(database: String) -> String { "postgres://\(Self.user)@\(host):\(port)/\(database)" }

    /// The cluster every suite of this test process shares, started on first use and stopped when
    /// the process exits.
    public static func shared() throws -> PostgresCluster {
        try sharedCluster.withLock { cluster in
            if let cluster { return cluster }
            let started = try PostgresCluster()
            cluster = started
            atexit { PostgresCluster.sharedCluster.withLock { $0?.stop() } }
            return started
        }
    }

    private static let sharedCluster = Mutex<PostgresCluster?>(nil)

    /// Runs `body` with a cluster of its own and stops it afterwards, also when `body` throws.
    public static func with<Result>(_ body: (PostgresCluster) async throws -> Result) async throws -> Result {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        return try await body(cluster)
    }

    /// Creates the folder, runs `initdb` and starts the server, waiting until it accepts connections.
    public init() throws {
        let binaries = try Self.findBinaries()
        let runAs = try Self.unprivilegedUser()
        let folder = NSTemporaryDirectory() + "encharge-pg-" + UUID().uuidString
        let password = UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var launched = false
        defer { if !launched { try? FileManager.default.removeItem(atPath: folder) } }
        try password.write(toFile: folder + "/password", atomically: false, encoding: .utf8)
        chmod(folder + "/password", 0o600)
        if let runAs {
            for path in [folder, folder + "/password"] { chown(path, runAs.uid, runAs.gid) }
        }
        let prefix = runAs.map {
            ["/usr/bin/setpriv", "--reuid=\($0.uid)", "--regid=\($0.gid)", "--clear-groups", "--"]
        }
        let initdb = try Self.run(
            directory: folder,
            (prefix ?? []) + [
                binaries + "/initdb", "--pgdata=\(folder)/data", "--username=\(Self.user)",
                "--pwfile=\(folder)/password", "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
                "--no-instructions",
            ])
        guard initdb.status == 0 else {
            throw Failure(description: "initdb failed in \(folder):\n\(initdb.output)")
        }
        var started: (server: Process, port: Int)?
        for attempt in 1...3 where started == nil {
            let port = try Self.freeLoopbackPort()
            let server = try Self.startServer(
                prefix: prefix ?? [], binaries: binaries, folder: folder, port: port, owner: runAs)
            if try Self.waitUntilReady(server, folder: folder) {
                started = (server, port)
            } else if attempt == 3 {
                // Each attempt exited at once (another process may have taken the probed port).
                let log = (try? String(contentsOfFile: folder + "/postgres.log", encoding: .utf8)) ?? ""
                throw Failure(description: "postgres did not start in \(folder):\n\(log)")
            }
        }
        guard let started else { throw Failure(description: "postgres did not start in \(folder)") }
        watchdog = try Self.startWatchdog(server: started.server.processIdentifier, folder: folder)
        launched = true
        self.binaries = binaries
        self.folder = folder
        self.password = password
        self.server = started.server
        self.port = started.port
    }

    deinit { stop() }

    /// Creates an empty database with a fresh name and returns the name.
    public func createDatabase() throws -> String {
        let name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        _ = try sql("CREATE DATABASE \(name)", in: "postgres")
        return name
    }

    /// Runs `statements` in `database` through `psql` (stopping at the first error); the rows it
    /// printed, unaligned, without headers, `|` between columns.
    @discardableResult
    public func sql(_ statements: String, in database: String) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["PGPASSWORD"] = password
        let result = try Self.run(
            [
                binaries + "/psql", "--no-psqlrc", "--quiet", "--no-align", "--tuples-only", "--set=ON_ERROR_STOP=1",
                "--host=\(host)", "--port=\(port)", "--username=\(Self.user)", "--dbname=\(database)",
                "--command=\(statements)",
            ], environment: environment)
        guard result.status == 0 else {
            throw Failure(description: "psql failed on database \(database):\n\(result.output)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The process id of the postmaster.
    public var serverProcessIdentifier: Int32 { server.processIdentifier }

    /// Stops the server (fast shutdown: open sessions are ended) and removes the folder; safe to
    /// call again.
    public func stop() {
        guard
            stopped.withLock({ done in
                defer { done = true }; return !done
            })
        else { return }
        if watchdog.isRunning { kill(watchdog.processIdentifier, SIGKILL) }
        watchdog.waitUntilExit()
        if server.isRunning { kill(server.processIdentifier, SIGINT) }
        server.waitUntilExit()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// The `bin` folder of the newest PostgreSQL under /usr/lib/postgresql (Debian's layout).
    private static func findBinaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { FileManager.default.isExecutableFile(atPath: "\(root)/\($0)/bin/initdb") }
            .sorted { Double($0) ?? 0 < Double($1) ?? 0 }
        guard let newest = versions.last else {
            throw Failure(
                description:
                    "no PostgreSQL server in \(root)/*/bin; install it with: apt-get install postgresql (scripts/test does)"
            )
        }
        return "\(root)/\(newest)/bin"
    }

    /// The user and group to run initdb and postgres as when this process is root: `postgres`
    /// (which Debian's package creates); nil when this process is not root.
    private static func unprivilegedUser() throws -> (uid: uid_t, gid: gid_t)? {
        guard geteuid() == 0 else { return nil }
        guard let entry = getpwnam("postgres") else {
            throw Failure(
                description:
                    "the tests run as root and initdb refuses root, but there is no postgres user to run it as; install postgresql (which creates it) or run: useradd --system postgres"
            )
        }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// A loopback TCP port nobody listens on right now.
    private static func freeLoopbackPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(descriptor, address, length) == 0 && getsockname(descriptor, address, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "could not bind a loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts `postgres` in the background, its log going to `postgres.log` in the folder. Durable
    /// commits stay on (`synchronous_commit` is the default `on`); only the fsyncs are skipped,
    /// which a throwaway cluster can afford.
    private static func startServer(
        prefix: [String], binaries: String, folder: String, port: Int, owner: (uid: uid_t, gid: gid_t)?
    ) throws -> Process {
        let logPath = folder + "/postgres.log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw Failure(description: "could not create \(logPath)")
        }
        if let owner { chown(logPath, owner.uid, owner.gid) }
        guard let log = FileHandle(forWritingAtPath: logPath) else {
            throw Failure(description: "could not open \(logPath)")
        }
        let arguments =
            prefix + [
                binaries + "/postgres", "-D", folder + "/data", "-h", "127.0.0.1", "-p", String(port), "-k", folder,
                "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=300",
                "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning",
            ]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try? log.close()
        return process
    }

    /// Waits until the postmaster writes `ready` into `postmaster.pid`: true when it did, false when
    /// it exited first (e.g. its port was taken).
    private static func waitUntilReady(_ server: Process, folder: String) throws -> Bool {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if !server.isRunning { return false }
            let status = (try? String(contentsOfFile: folder + "/data/postmaster.pid", encoding: .utf8)) ?? ""
            let lines = status.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.count > 7, lines[7].trimmingCharacters(in: .whitespaces) == "ready" { return true }
            usleep(20_000)
        }
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        throw Failure(description: "postgres did not become ready within 60 s in \(folder)")
    }

    /// A shell that stops the server and removes the folder once this process is gone (killed, or
    /// crashed before `stop()`): a throwaway cluster never outlives its tests.
    private static func startWatchdog(server: Int32, folder: String) throws -> Process {
        let script = """
            while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done
            kill -INT \(server) 2>/dev/null
            for _ in $(seq 300); do kill -0 \(server) 2>/dev/null || break; sleep 0.1; done
            rm -rf '\(folder)'
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs `arguments` to its end (in `directory`, which the unprivileged user can enter); its
    /// exit status and everything it printed.
    private static func run(
        directory: String? = nil, _ arguments: [String], environment: [String: String]? = nil
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.arguments = Array(arguments.dropFirst())
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
