#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A joinable pthread running one closure, for work that blocks (SQLite, libcurl, Lua, a condition
/// wait) and so must never occupy a thread of Swift's cooperative pool.
package struct JoinableThread: @unchecked Sendable {
    // Invariant: `handle` is joined or detached exactly once, by whoever owns this value (for example
    // `SQLiteSpool.deinit`, `SpoolDeliveryWorker.stop`, `DeliveryEngine.finish`).
    private let handle: pthread_t

    /// What the new thread receives. It holds the only reference to `body`, so whatever the closure
    /// captured (a transport, a Lua state) is released on the new thread when `body` returns.
    private final class Start {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread. `body` is `sending`: the caller gives up what it captures, so a
    /// non-Sendable value (a curl handle, a `lua_State`) can move to the thread that will own it.
    /// `stackSize` pins the thread's stack (bytes); nil takes the system's default, which follows
    /// `ulimit -s` and so differs between machines. Throws when the system refuses a thread.
    package init(stackSize: Int? = nil, _ body: sending @escaping () -> Void) throws(ThreadStartError) {
        // Unmanaged: the retain taken here is released by the new thread (takeRetainedValue) or, if
        // pthread_create fails, right below; the box is never touched by two threads at once.
        let start = Unmanaged.passRetained(Start(body))
        var handle = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        if let stackSize {
            let sizeResult = pthread_attr_setstacksize(&attributes, stackSize)
            guard sizeResult == 0 else {
                start.release()
                throw ThreadStartError(code: sizeResult)
            }
        }
        let result = pthread_create(
            &handle, &attributes,
            { raw in
                let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
                start.body()
                return nil
            }, start.toOpaque())
        guard result == 0 else {
            start.release()
            throw ThreadStartError(code: result)
        }
        self.handle = handle
    }

    /// Starts `body` on a new thread; nil when the system refuses one (for callers that treat every
    /// refusal alike).
    package static func start(stackSize: Int? = nil, _ body: sending @escaping () -> Void) -> JoinableThread? {
        try? JoinableThread(stackSize: stackSize, body)
    }

    /// Waits until the thread's closure has returned.
    package func join() { pthread_join(handle, nil) }

    /// Lets the thread free itself when it ends, for a thread nobody joins.
    package func detach() { pthread_detach(handle) }

    /// Whether the calling thread is this one (joining yourself would deadlock).
    package var isCurrent: Bool { pthread_equal(pthread_self(), handle) != 0 }
}
