#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file of modest size (rules, settings, fixtures) into memory.
package enum FileReader {
    /// The size cap: no file the tool reads whole is anywhere near it.
    package static let sizeLimit = 64 << 20

    /// The bytes of the file at `path` (`-` reads standard input). Throws when the file cannot be
    /// opened or read, is a directory, or holds more than `limit` bytes.
    package static func read(_ path: String, limit: Int = sizeLimit) throws(FileReadError) -> [UInt8] {
        let descriptor: Int32
        if path == "-" {
            descriptor = 0
        } else {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw FileReadError(path: path, kind: .cannotOpen(reason: String(cString: strerror(errno))))
            }
        }
        defer { if descriptor != 0 { close(descriptor) } }
        var info = stat()
        if fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            throw FileReadError(path: path, kind: .directory)
        }
        let chunk = 1 << 16
        var bytes: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: chunk)
        while true {
            let n = scratch.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, chunk) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileReadError(path: path, kind: .readFailed(reason: String(cString: strerror(errno))))
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: scratch[..<n])
            if bytes.count > limit { throw FileReadError(path: path, kind: .tooLarge(limit: limit)) }
        }
    }
}
