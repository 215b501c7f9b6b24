/// What the caller's threads and the delivery thread share, all under `state`'s lock.
struct EngineState {
    var schedule: DeliverySchedule
    /// Groups with an attempt on the wire (each group has at most one).
    var running = 0
    var queued = 0
    /// Submits blocked on a full queue; the delivery thread wakes them once `queued` falls to the
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
    /// `finish` was called: new submits are dead-lettered, the thread exits once the schedule is empty.
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
    /// The delivery thread may still be woken (its curl handles exist).
    var threadAlive = true
    /// The delivery thread is (about to be) blocked in poll and needs a wakeup for new work.
    var sleeping = false
    /// The delivery thread has written its last dead letter and is about to return.
    var drained = false
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
