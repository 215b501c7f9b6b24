import Synchronization
import Testing

@testable import WebhookServer

/// `--pace-backlog`: requests wait before their commit only while the spool's backlog is past the
/// limit in seconds of the measured delivery rate, longer the further past it.
@Suite struct AcceptancePacerTests {
    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        private let now = Mutex(100.0)
        var seconds: Double { now.withLock { $0 } }
        func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
    }

    /// A pacer with a 1 s limit whose measured delivery rate is 400 events/s (100 per 0.25 s).
    static func pacerDelivering400PerSecond() -> (AcceptancePacer, ManualClock, delivered: Int) {
        let clock = ManualClock()
        let pacer = AcceptancePacer(limit: 1, maxWait: 0.01, clock: { clock.seconds })
        var delivered = 0
        for _ in 0..<4 {
            #expect(pacer.wait(pending: 0, delivered: delivered) == 0)
            clock.advance(0.25)
            delivered += 100
        }
        #expect(pacer.figures(delivered: delivered).rate == 400)
        return (pacer, clock, delivered)
    }

    @Test func aGrowingBacklogSlowsAcceptanceAndADrainedOneDoesNot() {
        let (pacer, _, delivered) = Self.pacerDelivering400PerSecond()
        // Up to 1 s of delivery (400 events) nobody waits.
        #expect(pacer.wait(pending: 400, delivered: delivered) == 0)
        // Past it, the wait grows with the backlog: half the longest wait at 1.5 s, all of it from 2 s.
        let growing = [500, 600, 800, 1200, 40_000].map { pacer.wait(pending: $0, delivered: delivered) }
        #expect(growing == [0.0025, 0.005, 0.01, 0.01, 0.01])
        // Drained below the limit again: no wait.
        #expect(pacer.wait(pending: 399, delivered: delivered) == 0)
        #expect(pacer.wait(pending: 0, delivered: delivered) == 0)
        let figures = pacer.figures(delivered: delivered)
        #expect(figures.paced == 5)
        #expect(abs(figures.waited - 0.0375) < 1e-12)
    }

    @Test func stalledDeliveryIsNotPacedTo() {
        let (pacer, clock, delivered) = Self.pacerDelivering400PerSecond()
        #expect(pacer.wait(pending: 4000, delivered: delivered) == 0.01)
        // A quarter second without a delivery (the Ingest API down, a refused key): the spool
        // absorbs the outage, nobody waits.
        clock.advance(0.25)
        #expect(pacer.wait(pending: 4000, delivered: delivered) == 0)
        #expect(pacer.figures(delivered: delivered).rate == 0)
        // Delivery resumes: after one measured span the backlog paces again.
        clock.advance(0.25)
        #expect(pacer.wait(pending: 4000, delivered: delivered + 200) == 0.01)
    }

    @Test func theRateFollowsAChangeWithinASecond() {
        let (pacer, clock, start) = Self.pacerDelivering400PerSecond()
        var delivered = start
        for _ in 0..<4 {
            clock.advance(0.25)
            delivered += 25
            _ = pacer.wait(pending: 0, delivered: delivered)
        }
        // 100/s now: 400 → 250 → 175 → 137.5 → 118.75.
        #expect(pacer.figures(delivered: delivered).rate == 118.75)
        // Samples closer than 0.25 s apart change nothing.
        clock.advance(0.1)
        #expect(pacer.figures(delivered: delivered + 1000).rate == 118.75)
    }

    @Test func zeroTurnsPacingOff() {
        let clock = ManualClock()
        let pacer = AcceptancePacer(limit: 0, maxWait: 0.01, clock: { clock.seconds })
        var delivered = 0
        for _ in 0..<8 {
            #expect(pacer.wait(pending: 1_000_000, delivered: delivered) == 0)
            clock.advance(0.25)
            delivered += 100
        }
        #expect(pacer.figures(delivered: delivered).paced == 0)
    }
}
