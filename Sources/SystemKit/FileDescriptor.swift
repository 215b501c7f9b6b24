#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file descriptor the caller owns (this type never closes it), with the one write loop
/// the package uses.
package struct FileDescriptor: Sendable, Hashable {
    /// The descriptor number.
    package var rawValue: Int32

    package init(rawValue: Int32) { self.rawValue = rawValue }

    /// Descriptor 1.
    package static let standardOutput = FileDescriptor(rawValue: 1)
    /// Descriptor 2.
    package static let standardError = FileDescriptor(rawValue: 2)

    /// Writes every byte of `bytes`, retrying short writes and EINTR. Returns false on any other
    /// failure, with `errno` still set by the failed `write(2)`.
    @discardableResult
    package func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var offset = 0
        while offset < bytes.count {
            let n = write(rawValue, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    /// Writes the UTF-8 bytes of `text` with `writeAll(_:)`.
    @discardableResult
    package func writeAll(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { writeAll(UnsafeRawBufferPointer($0)) }
    }
}
