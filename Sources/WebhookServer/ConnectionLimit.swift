import HummingbirdCore
import SystemKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Caps open client connections below the process's file-descriptor limit, so connections alone
/// can never exhaust it: the spool, its SQLite readers and delivery keep the descriptors they
/// need, and clients beyond the cap wait in the listen backlog (the server stops accepting rather
/// than failing `accept` in a loop). Warns the first time the cap is reached.
struct ConnectionLimit: AvailableConnectionsDelegate {
    /// Descriptors kept for everything but client connections (stdio, event loops, SQLite, curl).
    static let reserved = 64

    let maximum: Int
    /// Where the warning goes (standard error for `serve`).
    let errors: any OutputWriter
    private var open = 0
    private var warned = false

    init(maximum: Int, errors: any OutputWriter) {
        self.maximum = maximum
        self.errors = errors
    }

    /// The cap for the current RLIMIT_NOFILE: all but `reserved` descriptors (at least half).
    static func forDescriptorLimit(errors: any OutputWriter) -> ConnectionLimit {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0,
            limit.rlim_cur < rlim_t(Int.max / 2)  // RLIM_INFINITY is the largest value
        else {
            return ConnectionLimit(maximum: .max, errors: errors)
        }
        let descriptors = Int(limit.rlim_cur)
        return ConnectionLimit(maximum: max(descriptors - reserved, descriptors / 2, 1), errors: errors)
    }

    mutating func connectionOpened() {
        open += 1
        if open >= maximum && !warned {
            warned = true
            errors.writeDiagnosticLine(
                "warning: serve holds \(open) connections, all the open-file limit allows (ulimit -n); new connections wait until some close; raise the limit if this is regular load"
            )
        }
    }

    mutating func connectionClosed() {
        open -= 1
    }

    func isAcceptingNewConnections() -> Bool {
        open < maximum
    }
}
