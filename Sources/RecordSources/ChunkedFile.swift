#if canImport(Glibc)
import Glibc
#endif

/// Reads a file descriptor in large chunks; the basis of every reader. Memory stays bounded by
/// the chunk size and the longest record.
final class ChunkedFile {
    let fd: Int32
    let ownsDescriptor: Bool
    /// Bytes read so far, for progress.
    private(set) var bytesRead: Int = 0
    let size: Int?

    init(path: String) throws(InputError) {
        if path == "-" {
            fd = 0
            ownsDescriptor = false
            size = nil
            return
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw InputError("cannot open \(path): \(String(cString: strerror(errno))); check the input path")
        }
        var info = stat()
        if fstat(descriptor, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR {
                close(descriptor)
                throw InputError("cannot read \(path): it is a directory; give a file")
            }
            size = (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : nil
        } else {
            size = nil
        }
        fd = descriptor
        ownsDescriptor = true
    }

    deinit { if ownsDescriptor { close(fd) } }

    /// Appends up to `count` bytes to `buffer`; returns how many (0 at end of file).
    func read(into buffer: inout [UInt8], count: Int) throws(InputError) -> Int {
        if scratch.count < count { scratch = [UInt8](repeating: 0, count: count) }
        var n = 0
        while true {
            n = scratch.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, count) }
            if n < 0 && errno == EINTR { continue }
            break
        }
        if n < 0 { throw InputError("read error: \(String(cString: strerror(errno)))") }
        if n > 0 { scratch.withUnsafeBytes { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[0..<n])) } }
        bytesRead += n
        return n
    }

    /// Reused read buffer (one chunk).
    private var scratch: [UInt8] = []
}
