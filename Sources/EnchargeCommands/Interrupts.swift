import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The interrupts (SIGINT/SIGTERM) a job has received, and a self-pipe that wakes an
/// `InterruptWatcher` at once when one arrives. A command takes the process's signal-driven
/// instance (`signalDriven()`); a test makes its own and calls `interrupt()` to act as Ctrl-C.
package final class Interrupts: Sendable {
    private let count = Atomic<Int>(0)
    /// Whether `handleSignals()` installs the SIGINT/SIGTERM handlers (the process's instance only).
    private let fedBySignals: Bool
    /// Both ends close on exec, and the write end never blocks (a full pipe already holds a
    /// wakeup). -1 when the system refused a pipe: interrupts are then counted but wake nobody.
    let wakeup: (read: Int32, write: Int32)

    /// Interrupts that only `interrupt()` sends.
    package convenience init() { self.init(fedBySignals: false) }

    private init(fedBySignals: Bool) {
        self.fedBySignals = fedBySignals
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else {
            wakeup = (-1, -1)
            return
        }
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(descriptors[1], F_SETFL, fcntl(descriptors[1], F_GETFL) | O_NONBLOCK)
        wakeup = (descriptors[0], descriptors[1])
    }

    deinit {
        if wakeup.read >= 0 {
            close(wakeup.read)
            close(wakeup.write)
        }
    }

    /// Interrupts received so far.
    package var received: Int { count.load(ordering: .relaxed) }

    /// Whether the job was asked to stop; read between records.
    package var requested: Bool { received > 0 }

    /// Counts one interrupt and wakes the watcher. Async-signal-safe: an atomic add and write(2).
    package func interrupt() {
        let saved = errno
        count.add(1, ordering: .relaxed)
        var byte: UInt8 = 1
        if wakeup.write >= 0 { _ = write(wakeup.write, &byte, 1) }
        errno = saved
    }

    /// From now on, SIGINT and SIGTERM are counted here instead of ending the process, when these
    /// are the process's interrupts; a job that stops cleanly on an interrupt calls this once it
    /// has something to stop (before that, and in jobs that never call it, a signal ends the
    /// process as usual).
    package func handleSignals() {
        if fedBySignals { _ = Self.handlersInstalled }
    }

    /// The process's interrupts, fed by SIGINT/SIGTERM once a job calls `handleSignals()`.
    package static func signalDriven() -> Interrupts { process }

    private static let process = Interrupts(fedBySignals: true)

    private static let handlersInstalled: Bool = {
        // Made before any handler can run: a handler must not run a lazy global initializer.
        _ = process
        let handler: @convention(c) (Int32) -> Void = { _ in Interrupts.process.interrupt() }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A parent may have started us with these blocked (some process launchers do); unblock them
        // so Ctrl-C and `kill` always reach the handler.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        return true
    }()
}
