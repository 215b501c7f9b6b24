import EnchargeRules
import SystemKit

#if canImport(Glibc)
import Glibc
#endif

/// Reads a secret (write key, signing secret, bearer token) from a file, the same way for every
/// command: surrounding white space and line breaks are trimmed, an empty file is an error, and a
/// file that other users may read gets a warning naming it and `chmod 600`.
package enum SecretFile {
    /// The trimmed secret in `path`; `flag` (`--write-key-file`) names it in messages, which
    /// never contain the secret itself. `warn` receives the warning about a file others can read
    /// (a command passes its context's diagnostics).
    package static func read(
        _ path: String, flag: String, warn: (String) -> Void
    ) throws(RuleLoadError) -> String {
        func failure(_ reason: String) -> RuleLoadError {
            RuleLoadError(
                "cannot read \(flag) \(Diagnostics.escaped(path)): \(reason); give a readable file that holds the secret"
            )
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT != S_IFDIR else { throw failure("it is a directory") }
        var bytes = [UInt8](repeating: 0, count: 1 << 16)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw failure(String(cString: strerror(errno))) }
            if n == 0 { break }
            count += n
        }
        guard count < bytes.count else { throw failure("larger than 64 KiB, which no secret is") }
        bytes.removeSubrange(count...)
        // Only a regular file's mode says who else can read it (a pipe from <(…) is private).
        if info.st_mode & S_IFMT == S_IFREG && info.st_mode & S_IROTH != 0 { warn(permissionWarning(path: path)) }
        let secret = String(String(decoding: bytes, as: UTF8.self).trimming(.all))
        guard !secret.isEmpty else {
            throw RuleLoadError("\(flag) \(Diagnostics.escaped(path)) is empty; put the secret in it")
        }
        return secret
    }

    /// The warning for a secret file that other users can read (mode o+r).
    static func permissionWarning(path: String) -> String {
        "warning: \(Diagnostics.escaped(path)) holds a secret and other users can read it; run chmod 600 \(Diagnostics.escaped(path))"
    }
}
