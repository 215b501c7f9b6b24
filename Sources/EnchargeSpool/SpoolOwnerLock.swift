#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes one process the owner of a spool: the one whose delivery worker drains it. Two workers
/// on one spool would both send its pending events (a second `serve` on the same file delivered
/// 29% of the events twice), so a second owner is refused.
///
/// It is an exclusive `flock` on `SPOOL.lock` beside the spool, held while this value lives (the
/// kernel drops it when the process dies, even by `kill -9`, so a crash never leaves a stale
/// lock). The file holds the owner's pid and command (`serve` or `deliver`), for the message.
/// `replay --spool` takes no lock: it only writes to the spool, and the owner delivers what it added.
package final class SpoolOwnerLock: Sendable {
    /// The lock file.
    package let path: String
    private let descriptor: Int32

    /// Takes the lock for `command` (the subcommand that will deliver: `serve` or `deliver`), or
    /// throws a `SpoolError` naming the process that holds it.
    package init(spoolPath: String, command: String) throws(SpoolError) {
        path = spoolPath + ".lock"
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw SpoolError(
                kind: .open,
                message:
                    "cannot create the lock file \(path): \(reason); check that its directory exists and is writable",
                path: spoolPath)
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            close(fd)
            guard busy else {
                throw SpoolError(kind: .open, message: "cannot lock \(path): \(reason)", path: spoolPath)
            }
            let owner = Self.owner(described: String(decoding: buffer.prefix(max(0, count)), as: UTF8.self))
            throw SpoolError(
                kind: .open,
                message: "is in use by \(owner); stop that one first, or give this one its own --spool",
                path: spoolPath)
        }
        let text = Array("\(getpid()) \(command)\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }

    /// "another encharge-lua deliver (pid 42)" from a lock file's text "42 deliver"; whatever part
    /// is missing or unreadable (a file an older version wrote holds the pid alone) is left out.
    static func owner(described text: String) -> String {
        let words = text.split(whereSeparator: \.isWhitespace)
        let pid = words.first.flatMap { Int($0) }
        let command = words.dropFirst().first.map(String.init).flatMap { ["serve", "deliver"].contains($0) ? $0 : nil }
        return "another encharge-lua \(command ?? "process")" + (pid.map { " (pid \($0))" } ?? "")
    }
}
