import Foundation
import TestSupport
import Testing

@testable import WebhookServer

/// `/healthz` reports stalled rule workers from this count: every worker busy and none freed for
/// longer than the time limit.
@Suite struct WorkerAvailabilityTests {
    /// A gate a test opens once, releasing the tasks waiting on it.
    actor Gate {
        private var waiters: [CheckedContinuation<Void, Never>] = []
        private var opened = false

        func wait() async {
            if opened { return }
            await withCheckedContinuation { waiters.append($0) }
        }

        func open() {
            opened = true
            for waiter in waiters { waiter.resume() }
            waiters.removeAll()
        }
    }

    @Test func stalledOnlyWhileEveryWorkerIsBusyAndNoneCameFree() async throws {
        let workers = WorkerAvailability(size: 2)
        let gate = Gate()
        #expect(workers.stalledSeconds() == nil)
        let first = Task { await workers.run { await gate.wait() } }
        #expect(await eventually("one busy worker of two is no stall") { workers.stalledSeconds() == nil })
        let second = Task { await workers.run { await gate.wait() } }
        // The stall clock runs while both stay busy.
        #expect(await eventually("the stall clock passes 0.25 s") { (workers.stalledSeconds() ?? 0) >= 0.25 })
        await gate.open()
        await first.value
        await second.value
        #expect(workers.stalledSeconds() == nil)
        // Busy again: the clock starts from now, not from the first stall (which began at least
        // 0.25 s before `restart`). Compared with elapsed time, not a fixed bound, so a loaded
        // machine cannot fail it.
        let restart = Date()
        let third = Task { await workers.run { try? await Task.sleep(for: .seconds(10)) } }
        let fourth = Task { await workers.run { try? await Task.sleep(for: .seconds(10)) } }
        #expect(await eventually("both busy again is a stall") { workers.stalledSeconds() != nil })
        let again = try #require(workers.stalledSeconds())
        #expect(again <= Date().timeIntervalSince(restart))
        third.cancel()
        fourth.cancel()
    }
}
