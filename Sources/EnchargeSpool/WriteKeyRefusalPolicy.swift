/// How `SpoolDeliveryWorker` waits while delivery is paused on a refused write key. (How many
/// refusals in a row pause it is `DeliveryConfiguration.refusalsBeforeStop`.)
public struct WriteKeyRefusalPolicy: Sendable, Hashable {
    /// Seconds between attempts while paused.
    public var retryInterval: Double

    public init(retryInterval: Double = 30) {
        self.retryInterval = retryInterval.isNaN ? 30 : max(0, retryInterval)
    }
}
