import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A `mock-ingest` process on a free loopback port, recording what it accepts into a file of the
/// test's directory; stopped by `stop()`.
public final class MockIngestProcess {
    /// The running `mock-ingest` (its stderr holds the `--verbose` request log).
    public let binary: RunningBinary
    /// `http://127.0.0.1:PORT/v1/`, what `--endpoint` takes.
    public let endpoint: String
    /// The `--record` file.
    public let recordPath: String
    /// The directory the record file is in.
    public let directory: TemporaryDirectory

    /// Starts `mock-ingest --host 127.0.0.1 --port 0 --record FILE ARGUMENTS` (a later `--port`
    /// wins) and waits for its first line, which names the endpoint.
    public init(_ arguments: [String], in directory: TemporaryDirectory) throws {
        self.directory = directory
        recordPath = directory.path + "/received-\(UUID().uuidString).jsonl"
        binary = try Binary.launch(
            ["mock-ingest", "--host", "127.0.0.1", "--port", "0", "--record", recordPath] + arguments)
        guard let line = binary.waitForLine(where: { $0.contains("http://") }),
            let range = line.range(of: "http://")
        else {
            binary.kill9()
            throw CocoaError(
                .fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "mock-ingest did not start: \(binary.output)"])
        }
        endpoint = String(line[range.lowerBound...].prefix { !$0.isWhitespace })
    }

    /// The process itself.
    public var process: Process { binary.process }
    /// Everything the mock wrote to standard error so far.
    public var stderr: String { binary.stderr }

    /// Accepted events, in arrival order, as parsed JSON objects.
    public func received() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: recordPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// SIGTERM, and waits for the exit.
    public func stop() {
        binary.signal(SIGTERM)
        binary.wait()
    }

    /// SIGKILL, and waits for the exit: for a mock with requests still hanging, which does not
    /// exit on SIGTERM while its handlers sleep out `--latency-ms`.
    public func kill9() { binary.kill9() }
}
