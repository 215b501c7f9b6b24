import Glibc
import SystemKit
import Testing

@Suite struct FileDescriptorTests {
    /// Reads `descriptor` to end of file on a thread of its own, so that a writer larger than the
    /// pipe's buffer is not blocked forever.
    static func drain(_ descriptor: Int32) throws -> (JoinableThread, ReadBytes) {
        let result = ReadBytes()
        let thread = try JoinableThread {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            var all: [UInt8] = []
            while true {
                let n = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                all += chunk[..<n]
            }
            result.bytes = all
        }
        return (thread, result)
    }

    @Test("writeAll puts a payload far larger than a pipe's buffer through whole and in order")
    func largePayloadThroughPipe() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        let (thread, reader) = try Self.drain(ends[0])
        let payload = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        let written = payload.withUnsafeBytes { FileDescriptor(rawValue: ends[1]).writeAll($0) }
        close(ends[1])
        thread.join()
        close(ends[0])
        #expect(written)
        #expect(reader.bytes.count == payload.count)
        #expect(reader.bytes == payload)
    }

    @Test("writeAll reports a failed write with errno set")
    func failure() {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        close(ends[0])
        // Writing to a pipe with no reader fails with EPIPE once SIGPIPE is ignored.
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        let written = FileDescriptor(rawValue: ends[1]).writeAll("line\n")
        let error = errno
        close(ends[1])
        #expect(!written)
        #expect(error == EPIPE)
        #expect(FileDescriptor(rawValue: -1).writeAll("x") == false)
    }

    @Test("an empty write succeeds without touching the descriptor")
    func emptyWrite() {
        #expect(FileDescriptor(rawValue: -1).writeAll(""))
    }
}

/// What a reading thread hands back; read only after that thread is joined.
final class ReadBytes: @unchecked Sendable {
    // Invariant: written by the reading thread before it ends, read by the test after join().
    var bytes: [UInt8] = []
}
