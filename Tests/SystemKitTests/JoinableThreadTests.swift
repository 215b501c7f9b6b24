import Glibc
import Synchronization
import SystemKit
import Testing

@Suite struct JoinableThreadTests {
    /// A non-Sendable value, to show that `start` takes it across threads by `sending`.
    final class Tally {
        var values: [Int] = []
    }

    @Test("the closure runs on another thread and join waits until it has returned")
    func runsAndJoins() throws {
        let finished = Atomic(false)
        let thread = try JoinableThread {
            finished.store(true, ordering: .sequentiallyConsistent)
        }
        #expect(!thread.isCurrent)
        thread.join()
        let didFinish = finished.load(ordering: .sequentiallyConsistent)
        #expect(didFinish)
    }

    @Test("a non-Sendable value moves into the thread and comes back after join")
    func sendingClosure() throws {
        let tally = Tally()
        let result = Mutex<[Int]>([])
        let thread = try JoinableThread {
            for value in 1...5 { tally.values.append(value * value) }
            result.withLock { $0 = tally.values }
        }
        thread.join()
        #expect(result.withLock { $0 } == [1, 4, 9, 16, 25])
    }

    @Test("isCurrent is true only on the thread itself")
    func isCurrent() throws {
        let seen = ConditionLock<JoinableThread?>(nil)
        let answer = Atomic(0)
        let thread = try JoinableThread {
            let me = seen.withLock(whenReady: { $0 != nil }) { $0! }
            answer.store(me.isCurrent ? 1 : 2, ordering: .sequentiallyConsistent)
        }
        seen.withLock { $0 = thread }
        seen.broadcast()
        thread.join()
        let onItself = answer.load(ordering: .sequentiallyConsistent)
        #expect(onItself == 1)
        #expect(!thread.isCurrent)
    }

    @Test("start's optional form starts a thread too")
    func optionalStart() throws {
        let ran = Atomic(false)
        let thread = try #require(JoinableThread.start { ran.store(true, ordering: .sequentiallyConsistent) })
        thread.join()
        let didRun = ran.load(ordering: .sequentiallyConsistent)
        #expect(didRun)
    }

    @Test("a pinned stack size reaches the thread: a size below the system minimum is refused, a large one runs")
    func stackSize() throws {
        let error = #expect(throws: ThreadStartError.self) { try JoinableThread(stackSize: 1) {} }
        #expect(error?.code == EINVAL)
        let ran = Atomic(false)
        let thread = try JoinableThread(stackSize: 16 << 20) { ran.store(true, ordering: .sequentiallyConsistent) }
        thread.join()
        let didRun = ran.load(ordering: .sequentiallyConsistent)
        #expect(didRun)
    }
}
