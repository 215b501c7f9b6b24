import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The built binary running in the background (`Binary.launch`), so a test can wait for a line it
/// prints, signal it, wait for its exit and read everything it wrote. Standard output and standard
/// error are drained as they come (a pipe nobody reads could fill up and stall the process);
/// standard input is `/dev/null`.
public final class RunningBinary {
    /// Which stream a line is awaited on.
    public enum Stream: Sendable { case stdout, stderr }

    /// The process itself (its pid, its termination status).
    public let process = Process()
    private let out = OutputCapture()
    private let err = OutputCapture()
    /// Signalled once the process has exited (and re-signalled by each wait that took it).
    private let exited = DispatchSemaphore(value: 0)

    /// Starts `executable ARGUMENTS` in `directory` with this process's environment, less
    /// `removing`, plus `environment`.
    init(
        executable: String, arguments: [String], environment: [String: String], removing: [String], directory: String
    ) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        for key in removing { env.removeValue(forKey: key) }
        env.merge(environment) { $1 }
        process.environment = env
        let stdoutPipe = Pipe(), stderrPipe = Pipe()
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { [exited] _ in exited.signal() }
        try process.run()
        out.drain(stdoutPipe.fileHandleForReading)
        err.drain(stderrPipe.fileHandleForReading)
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }
    /// Whether the process is still running.
    public var isRunning: Bool { process.isRunning }
    /// Everything written to standard output so far.
    public var stdout: String { out.text }
    /// Everything written to standard error so far.
    public var stderr: String { err.text }
    /// Everything the process wrote so far (stdout, then stderr), for checks that no secret leaks.
    public var output: String { stdout + stderr }

    /// Waits up to `timeout` seconds for a complete line on `stream` that satisfies `matches`;
    /// the line, or nil when none came before the timeout or the stream closed.
    public func waitForLine(
        on stream: Stream = .stdout, timeout: Double = 30, where matches: (String) -> Bool
    ) -> String? {
        (stream == .stdout ? out : err).waitForLine(until: Date().addingTimeInterval(timeout), where: matches)
    }

    /// Sends `number` (default SIGINT) while the process runs.
    public func signal(_ number: Int32 = SIGINT) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Whether the process exited within `timeout` seconds.
    public func waitForExit(timeout: Double) -> Bool {
        if !process.isRunning { return true }
        guard exited.wait(timeout: .now() + timeout) == .success else { return false }
        exited.signal()  // stays signalled for the next wait
        return true
    }

    /// Waits for the exit and for both streams to close; the exit status (or the signal number).
    @discardableResult
    public func wait() -> Int32 {
        process.waitUntilExit()
        out.waitUntilClosed()
        err.waitUntilClosed()
        return process.terminationStatus
    }

    /// SIGTERM, then up to `timeout` seconds for a graceful exit (SIGKILL after that); the exit status.
    @discardableResult
    public func stop(timeout: Double = 20) -> Int32 {
        signal(SIGTERM)
        if !waitForExit(timeout: timeout) { signal(SIGKILL) }
        return wait()
    }

    /// `kill -9`: no chance to drain or flush anything; waits for the exit.
    public func kill9() {
        signal(SIGKILL)
        wait()
    }

    /// How far the process has read the file at `path` (Linux `/proc/PID/fdinfo`), nil when it
    /// has no descriptor open on it.
    public func readOffset(of path: String) -> Int? {
        let pid = process.processIdentifier
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            return nil
        }
        for descriptor in descriptors {
            guard
                let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)"),
                link == target,
                let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(descriptor)", encoding: .utf8),
                let line = info.split(separator: "\n").first(where: { $0.hasPrefix("pos:") })
            else { continue }
            return Int(line.dropFirst(4).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// Waits until the process has read part of `path` and then stops reading it for 0.7 s: it is
    /// blocked (e.g. on a full delivery queue). False if that did not happen within `timeout`.
    public func waitUntilBlockedReading(_ path: String, timeout: Duration = .seconds(60)) async -> Bool {
        var last: Int?
        var unchangedSince = ContinuousClock.now
        return await eventually("the process blocks reading \(path)", timeout: timeout, interval: .milliseconds(50)) {
            let offset = readOffset(of: path)
            if offset != last {
                last = offset
                unchangedSince = .now
                return false
            }
            return isRunning && (offset ?? 0) > 0 && ContinuousClock.now - unchangedSince > .milliseconds(700)
        }
    }
}

/// One output stream of a running process, read to its end by a thread of its own.
final class OutputCapture: @unchecked Sendable {
    // Invariant: `data` and `closed` are only touched with `condition` locked.
    private let condition = NSCondition()
    private var data = Data()
    private var closed = false

    /// Everything read so far.
    var text: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads `handle` to its end on a new thread, waking waiters at every chunk and at the end.
    func drain(_ handle: FileHandle) {
        let thread = Thread { [self] in
            while true {
                let chunk = handle.availableData
                condition.lock()
                if chunk.isEmpty { closed = true } else { data.append(chunk) }
                condition.broadcast()
                condition.unlock()
                if chunk.isEmpty { return }
            }
        }
        thread.start()
    }

    /// The first complete line satisfying `matches`, waiting until `deadline` or the end of the stream.
    func waitForLine(until deadline: Date, where matches: (String) -> Bool) -> String? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let text = String(decoding: data, as: UTF8.self)
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if !closed { lines.removeLast() }  // the line still being written
            if let line = lines.first(where: matches) { return line }
            if closed || !condition.wait(until: deadline) { return nil }
        }
    }

    /// Waits until the stream is read to its end.
    func waitUntilClosed() {
        condition.lock()
        defer { condition.unlock() }
        while !closed { condition.wait() }
    }
}
