import Synchronization
import SystemKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends each accepted event to the `--record` file as one line of wire JSON.
///
/// Lines are written whole, one `write(2)` call (or loop) per line under a lock, straight to an
/// `O_APPEND` descriptor with no user-space buffer, so another process tailing the file sees every
/// line as soon as its request is answered, in the order the events were accepted.
package final class MockIngestRecorder: Sendable {
    let path: String
    /// The open descriptor; owned by this object, used only under the lock, closed in `deinit`.
    private let descriptor: Mutex<Int32>

    init(path: String) throws(MockIngestError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if fd < 0 {
            throw MockIngestError(.recordFile, "cannot open record file \(path): \(Self.errnoText())")
        }
        self.path = path
        self.descriptor = Mutex(fd)
    }

    deinit {
        descriptor.withLock { fd in _ = close(fd) }
    }

    /// Writes `line` and a newline at the end of the file.
    func append(_ line: [UInt8]) throws(MockIngestError) {
        var bytes = line
        bytes.append(UInt8(ascii: "\n"))
        let failure: String? = descriptor.withLock { fd in
            bytes.withUnsafeBytes { FileDescriptor(rawValue: fd).writeAll($0) } ? nil : Self.errnoText()
        }
        if let failure {
            throw MockIngestError(.recordFile, "cannot write record file \(path): \(failure)")
        }
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}
