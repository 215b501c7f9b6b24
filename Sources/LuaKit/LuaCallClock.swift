import CLua

/// When the running protected call of one `LuaState` started, readable and abandonable from any
/// thread: the hook a watchdog needs to notice a C call that no budget can interrupt.
public final class LuaCallClock: Sendable {
    // Invariant: allocated here, freed in deinit; the LuaState that points its limits at it holds
    // this object, so it outlives the lua_State. Every access goes through CLua's atomics.
    nonisolated(unsafe) let storage: UnsafeMutablePointer<Int64>

    init() {
        storage = .allocate(capacity: 1)
        storage.initialize(to: 0)
    }

    deinit { storage.deallocate() }

    /// CLOCK_MONOTONIC nanoseconds at which the running call started, or nil when no call runs.
    public var runningSince: Int64? {
        let started = encl_call_started(storage)
        return started > 0 ? started : nil
    }

    /// Whether the call that started at `started` was given up by a watchdog.
    public var isAbandoned: Bool { encl_call_started(storage) == Int64(ENCL_CALL_ABANDONED) }

    /// Gives up the call that started at `started`, if it is still running. From then on the
    /// thread running it never returns to Swift (it parks when the C call ends), so the caller
    /// owns whatever that thread was working on. False if the call ended meanwhile.
    public func abandon(startedAt started: Int64) -> Bool {
        encl_call_abandon(storage, started) != 0
    }

    /// Nanoseconds on the clock `runningSince` uses.
    public static func now() -> Int64 { encl_now_ns() }
}
