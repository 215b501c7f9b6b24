import EnchargeKit
import EnchargeSpool
import SystemKit
import WebhookSignatures

/// `run --spool`: commits each record's events to a spool as one request instead of sending them;
/// `deliver` workers (or a `serve`) send them. The run ends once every event is committed.
///
/// Order: a person's events go to one lane, and within a lane delivery follows commit order, so a
/// record's commit starts only after the commits of earlier records that share a lane with it
/// ended; records of unrelated people commit concurrently (the spool group-commits them).
///
/// Re-running the same backfill: each record's dedup key is the SHA-256 of its source
/// (`signups.jsonl:42`) and its events' wire bytes, so running the same input again (after a crash
/// or an interrupt, within `dedupWindow`) spools only what the first run did not commit.
final class SpoolEventSink: EventSink, Sendable {
    /// Records whose commit may be under way at once.
    static let maxInFlight = 256
    /// Seconds a record's dedup key is remembered: re-running the same backfill within a week
    /// spools nothing twice.
    static let dedupWindow = 7 * 86_400.0

    private struct State {
        var busyLanes = Set<Int>()
        var inFlight = 0
        var spooled = 0
        var duplicates = 0
        var failure: SpoolError?
    }

    private let opened: OpenedSpool
    private let calls: SpoolCallThread
    private let state = ConditionLock(State())

    /// Commits to `opened`, whose async calls run on `calls`; `finish` closes both.
    init(spool opened: OpenedSpool, calls: SpoolCallThread) {
        self.opened = opened
        self.calls = calls
    }

    /// The first commit that failed; the run stops at the next record.
    var failure: SpoolError? { state.withLock { $0.failure } }

    func emit(_ events: [Event], source: String) {
        guard !events.isEmpty else { return }
        var keyed = Array(source.utf8)
        for event in events {
            keyed.append(0x0A)
            keyed += event.wireJSON()
        }
        let key = "run:" + WebhookCrypto.sha256Hex(keyed)
        let lanes = Set(events.map { SpoolLanes.lane(ofIdentityKey: $0.identityKey) })
        let go = state.withLock(whenReady: {
            $0.failure != nil || ($0.inFlight < Self.maxInFlight && $0.busyLanes.isDisjoint(with: lanes))
        }) { state -> Bool in
            guard state.failure == nil else { return false }
            state.busyLanes.formUnion(lanes)
            state.inFlight += 1
            return true
        }
        guard go else { return }
        let (spool, state) = (opened.spool, self.state)
        calls.start {
            let result: Result<SpoolAcceptResult, SpoolError>
            do throws(SpoolError) {
                result = .success(
                    try await spool.accept(
                        requestID: String(key.prefix(20)), dedupKey: key, events: events, source: source,
                        dedupWindow: Self.dedupWindow))
            } catch {
                result = .failure(error)
            }
            state.withLock { state in
                state.busyLanes.subtract(lanes)
                state.inFlight -= 1
                switch result {
                case .success(.accepted): state.spooled += events.count
                case .success(.duplicate): state.duplicates += events.count
                case .failure(let error): state.failure = state.failure ?? error
                }
            }
            state.broadcast()
        }
    }

    /// Waits until every commit started has ended, then closes the spool and its call thread; the events
    /// committed, those an earlier run had already committed, and the first failure.
    func finish() -> SpoolTally {
        let tally = state.withLock(whenReady: { $0.inFlight == 0 }) {
            SpoolTally(spooled: $0.spooled, duplicates: $0.duplicates, failure: $0.failure)
        }
        let opened = self.opened
        calls.wait { await opened.close() }
        calls.close()
        return tally
    }
}
