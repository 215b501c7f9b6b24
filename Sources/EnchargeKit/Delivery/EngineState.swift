/// What the caller's threads and the sender threads share, all under `state`'s lock.
struct EngineState {
    /// One sender thread (`DeliveryCore.run`) as the others see it.
    struct Sender {
        /// Its attempts on the wire (at most its transport's capacity).
        var running = 0
        /// It may still be woken (its curl handles exist).
        var alive = true
        /// It is (about to be) blocked in poll and needs a wakeup for new work.
        var sleeping = false
    }

    var schedule: DeliverySchedule
    /// Groups with an attempt on the wire (each group has at most one), over every sender.
    var running = 0
    var queued = 0
    /// Submits blocked on a full queue; a sender thread wakes them once `queued` falls to the
    /// engine's resume mark, not on every event it settles.
    var submitsWaiting = 0
    var submitted = 0
    var delivered = 0
    var retries = 0
    var deadLettered = 0
    var deadLetterWriteFailures = 0
    var lastDeadLetterError: String?
    var latency = LatencyHistogram()
    var firstSubmitAt: Double?
    var finishedAt: Double?
    /// `finish` was called: new submits are dead-lettered, the senders exit once the schedule is empty.
    var closing = false
    /// When `finish`'s timeout runs out (monotonic seconds).
    var deadline: Double?
    /// Set when the engine stops (interrupt, deadline passed, `stop`): nothing new starts, and every
    /// event not delivered is dead-lettered with this error once nothing is on the wire.
    var halt: DeliveryError?
    /// Why the engine stopped on its own, if it did.
    var stop: DeliveryStop?
    /// When requests still on the wire are abandoned (monotonic seconds), once halted.
    var abandonAt: Double?
    /// 401/403 answers since the last 2xx.
    var refusalsInARow = 0
    /// Each sender thread's share of the work, by sender index.
    var senders: [Sender]
    /// Sender threads that returned (wrote their last dead letter); the engine is drained when all did.
    var sendersDone = 0
    var drained = false
    /// Dead letters and delivered tags applied but not yet written or reported, in the order they
    /// were applied; whichever sender flushes next writes them, one flush at a time (see
    /// `DeliveryCore.flushSettled`), so the dead-letter file keeps that order across senders.
    var unwrittenLetters: [PendingDeadLetter] = []
    var unreportedDelivered: [Int64] = []
    var joined = false

    func stats(now: Double) -> DeliveryStats {
        var rate = 0.0
        if let start = firstSubmitAt {
            let elapsed = (finishedAt ?? now) - start
            if elapsed > 0 { rate = Double(delivered) / elapsed }
        }
        return DeliveryStats(
            submitted: submitted, delivered: delivered, inFlight: running, queued: queued, retries: retries,
            deadLettered: deadLettered, deadLetterWriteFailures: deadLetterWriteFailures,
            lastDeadLetterError: lastDeadLetterError, p50Latency: latency.quantile(0.5),
            p99Latency: latency.quantile(0.99), eventsPerSecond: rate, stop: stop)
    }
}
