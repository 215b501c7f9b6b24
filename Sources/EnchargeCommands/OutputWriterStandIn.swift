#if canImport(Glibc)
import Glibc
#endif

// Stand-in until SystemKit lands its OutputWriter; replaced at the next pull.
package protocol OutputWriter: Sendable {
    func write(_ bytes: [UInt8])
}

package struct StandardOutputWriter: OutputWriter {
    package init() {}
    package func write(_ bytes: [UInt8]) { writeAll(1, bytes) }
}

package struct StandardErrorWriter: OutputWriter {
    package init() {}
    package func write(_ bytes: [UInt8]) { writeAll(2, bytes) }
}

private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 { if errno == EINTR { continue } else { return } }
            offset += n
        }
    }
}

package final class BufferWriter: OutputWriter, @unchecked Sendable {
    private let lock = NSLockStandIn()
    private var bytes: [UInt8] = []
    package init() {}
    package func write(_ bytes: [UInt8]) { lock.withLock { self.bytes += bytes } }
    package var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
}

import Synchronization
private final class NSLockStandIn: Sendable {
    let mutex = Mutex(())
    func withLock<T>(_ body: () -> T) -> T { mutex.withLock { _ in body() } }
}
