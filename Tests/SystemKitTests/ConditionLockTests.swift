import SystemKit
import Testing

@Suite struct ConditionLockTests {
    @Test("a timed wait whose condition never holds returns after its timeout, not before")
    func timedWaitTimesOut() {
        let lock = ConditionLock(0)
        let started = SystemClock.monotonicSeconds()
        let seen = lock.withLock(whenReady: { $0 > 0 }, timeout: 0.2) { $0 }
        let elapsed = SystemClock.monotonicSeconds() - started
        #expect(seen == 0)
        #expect(elapsed >= 0.2)
    }

    @Test("a timed wait returns as soon as another thread changes the state and signals")
    func timedWaitWakesOnSignal() throws {
        let lock = ConditionLock(0)
        let result = ConditionLock<Int?>(nil)
        let waiter = try JoinableThread {
            let value = lock.withLock(whenReady: { $0 > 0 }, timeout: 600) { $0 }
            result.withLock { $0 = value }
        }
        // Whether the waiter is already asleep or not yet waiting, it sees the change: the wait
        // checks the state before sleeping and again on every wake-up.
        let started = SystemClock.monotonicSeconds()
        lock.withLock { $0 = 42 }
        lock.signal()
        waiter.join()
        #expect(result.withLock { $0 } == 42)
        // Far below the 600 s timeout: the signal, not the clock, ended the wait.
        #expect(SystemClock.monotonicSeconds() - started < 60)
    }

    @Test("broadcast wakes every waiter and signal wakes them one by one")
    func broadcastAndSignal() throws {
        let gate = ConditionLock((open: 0, waiting: 0, passed: 0))
        var threads: [JoinableThread] = []
        for _ in 0..<4 {
            threads.append(
                try JoinableThread {
                    gate.withLock { $0.waiting += 1 }
                    gate.broadcast()
                    gate.withLock(whenReady: { $0.open > 0 }) { state in
                        state.open -= 1
                        state.passed += 1
                    }
                    gate.broadcast()
                })
        }
        gate.withLock(whenReady: { $0.waiting == 4 }) { _ in }
        // One ticket and one signal: exactly one waiter passes.
        gate.withLock { $0.open = 1 }
        gate.signal()
        gate.withLock(whenReady: { $0.passed == 1 }) { _ in }
        // Three tickets and a broadcast: the rest pass.
        gate.withLock { $0.open = 3 }
        gate.broadcast()
        for thread in threads { thread.join() }
        #expect(gate.withLock { $0.passed } == 4)
        #expect(gate.withLock { $0.open } == 0)
    }

    @Test("a wait whose condition already holds does not wait at all")
    func readyAtOnce() {
        let lock = ConditionLock("ready")
        let value = lock.withLock(whenReady: { $0 == "ready" }, timeout: 600) { $0 }
        #expect(value == "ready")
    }
}
