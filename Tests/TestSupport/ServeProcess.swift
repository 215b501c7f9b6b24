import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An `encharge-lua serve` process on a free loopback port, started in the test's directory
/// without `ENCHARGE_ENDPOINT` from the test's environment.
public final class ServeProcess {
    /// The running server.
    public let binary: RunningBinary
    /// The port it listens on.
    public let port: Int

    /// Starts `encharge-lua ARGUMENTS` and waits (up to 30 s) for the line
    /// `encharge-lua serve listening on http://127.0.0.1:PORT/ (spool PATH)`.
    /// `launcher` runs the binary through another program (e.g. `prlimit --fsize=N`).
    public init(
        _ arguments: [String], in directory: TemporaryDirectory, environment: [String: String], launcher: [String] = []
    ) throws {
        binary = try Binary.launch(
            arguments, environment: environment, removing: ["ENCHARGE_ENDPOINT"], directory: directory.path,
            launcher: launcher)
        guard let line = binary.waitForLine(where: { $0.contains("http://127.0.0.1:") }),
            let range = line.range(of: "http://127.0.0.1:"),
            let port = Int(line[range.upperBound...].prefix { $0.isNumber })
        else {
            binary.kill9()
            throw CocoaError(
                .fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "serve did not start: \(binary.stderr)"])
        }
        self.port = port
    }

    /// The process itself.
    public var process: Process { binary.process }
    /// Everything written to standard output so far.
    public var stdout: String { binary.stdout }
    /// Everything written to standard error so far.
    public var stderr: String { binary.stderr }
    /// Everything the process wrote, for checks that no secret leaks.
    public var output: String { binary.output }

    /// One request to this server.
    public func send(
        _ method: String = "POST", _ path: String = "/", headers: [(String, String)] = [], body: [UInt8] = [],
        chunked: Bool = false
    ) throws -> HTTPReply {
        try RawHTTPConnection.send(
            port: port, method: method, path: path, headers: headers, body: body, chunked: chunked)
    }

    /// A JSON POST.
    public func postJSON(_ path: String = "/", _ json: String, headers: [(String, String)] = []) throws -> HTTPReply {
        try RawHTTPConnection.postJSON(port: port, path, json, headers: headers)
    }

    /// Sends `number` while the process runs.
    public func signal(_ number: Int32) { binary.signal(number) }

    /// SIGTERM, then waits up to 20 s for a graceful exit (SIGKILL after that); the exit status.
    @discardableResult
    public func stop() -> Int32 { binary.stop(timeout: 20) }

    /// `kill -9`: no chance to drain or flush anything.
    public func kill9() { binary.kill9() }

    /// Whether the process exited within `timeout` seconds.
    public func waitForExit(timeout: Double) -> Bool { binary.waitForExit(timeout: timeout) }

    /// How many times `text` occurs in stderr.
    public func stderrCount(_ text: String) -> Int {
        stderr.components(separatedBy: text).count - 1
    }
}
