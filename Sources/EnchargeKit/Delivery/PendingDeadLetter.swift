/// An event given up on, waiting to be written to the dead-letter file outside the lock.
struct PendingDeadLetter {
    var event: Event
    var error: DeliveryError
    var source: String
    /// The caller's tag, for `onSettled`.
    var tag: Int64?
}
