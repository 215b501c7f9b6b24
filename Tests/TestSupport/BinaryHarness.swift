import Foundation

/// Runs the built `encharge-lua` binary, as a user would.
public struct Binary {
    /// The package root (this file is Tests/TestSupport/BinaryHarness.swift).
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// `$ENCHARGE_LUA_BIN`, else the `encharge-lua` next to the test bundle, else .build/debug.
    public static let path: String = {
        if let explicit = ProcessInfo.processInfo.environment["ENCHARGE_LUA_BIN"] { return explicit }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("encharge-lua").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return packageRoot + "/.build/debug/encharge-lua"
    }()

    /// The path of another product built with the package: `name` in the binary's directory.
    public static func besideBinary(_ name: String) -> String {
        URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// How one run of the binary ended and what it printed.
    public struct Result: Sendable {
        /// The exit status (or the signal number, when killed).
        public var status: Int32
        /// Everything written to standard output.
        public var stdout: String
        /// Everything written to standard error.
        public var stderr: String
        /// The process outlived `timeout` and was killed.
        public var timedOut = false
    }

    /// Runs the binary with `arguments` in `directory` (default: the package root). With a
    /// `timeout`, a process still running after that many seconds is killed (SIGKILL), so a
    /// test of something that used to hang fails instead of hanging the suite. `executable` runs
    /// another program built with the package instead (see `besideBinary`).
    @discardableResult
    public static func run(
        _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
        directory: String = packageRoot, removing: [String] = [], timeout: Double? = nil, executable: String = path
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        for key in removing { env.removeValue(forKey: key) }
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let killed = DataBox(), finished = DataBox()
        if let timeout {
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                if finished.get().isEmpty {
                    killed.set(Data([1]))
                    kill(pid, SIGKILL)
                }
            }
        }
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read both pipes fully before waiting so a large output cannot block the child.
        let stderrBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        let errHandle = err.fileHandleForReading
        DispatchQueue.global().async {
            stderrBox.set(errHandle.readDataToEndOfFile())
            group.leave()
        }
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let stderrData = stderrBox.get()
        process.waitUntilExit()
        finished.set(Data([1]))
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self), timedOut: !killed.get().isEmpty)
    }
}

extension Binary {
    /// Starts the binary with `arguments` in the background in `directory` (default: the package
    /// root), with this process's environment less `removing` plus `environment`. `launcher` runs
    /// it through another program, the binary's path then following the launcher's arguments
    /// (e.g. `["/usr/bin/prlimit", "--fsize=4096"]`; `["/bin/sh", "-c", "exec \"$0\" ..."]` hands
    /// a shell the binary's path as `$0`).
    public static func launch(
        _ arguments: [String], environment: [String: String] = [:], removing: [String] = [],
        directory: String = packageRoot, launcher: [String] = []
    ) throws -> RunningBinary {
        // Absolute, since the process starts in `directory` (`$ENCHARGE_LUA_BIN` may be relative).
        let binary = URL(fileURLWithPath: path).path
        return try RunningBinary(
            executable: launcher.first ?? binary,
            arguments: launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [binary] + arguments,
            environment: environment, removing: removing, directory: directory)
    }
}

/// Data handed from a reader thread (a child's stderr), under a lock.
public final class DataBox: @unchecked Sendable {
    // Invariant: `data` is only touched under `lock`.
    private let lock = NSLock()
    private var data = Data()
    /// An empty box.
    public init() {}
    /// Replaces the contents.
    public func set(_ value: Data) { lock.lock(); data = value; lock.unlock() }
    /// The contents.
    public func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}
