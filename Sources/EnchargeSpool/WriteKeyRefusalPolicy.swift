/// How `SpoolDeliveryWorker` waits while delivery is paused on a refused write key. (How many
/// refusals in a row pause it is `DeliveryConfiguration.refusalsBeforeStop`.)
package struct WriteKeyRefusalPolicy: Sendable, Hashable {
    /// Seconds between attempts while paused.
    package var retryInterval: Double

    package init(retryInterval: Double = 30) {
        self.retryInterval = retryInterval.isNaN ? 30 : max(0, retryInterval)
    }
}
