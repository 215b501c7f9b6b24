import EnchargeKit

/// Everything `encharge-lua deliver` needs, already parsed from flags and the environment.
package struct DeliverJobConfiguration: Sendable {
    /// The spool to drain.
    package var spool: SpoolOpening
    /// How events are sent: the delivery flags of `run`.
    package var delivery: DeliveryConfiguration
    /// Seconds requests on the wire may take to finish after the first SIGTERM/SIGINT.
    package var drainTimeout: Double
    /// Seconds between attempts while the Ingest API refuses the write key.
    package var keyRetryInterval: Double
    /// Seconds between status lines on stderr; 0 prints none.
    package var statusInterval: Double

    package init(
        spool: SpoolOpening, delivery: DeliveryConfiguration, drainTimeout: Double, keyRetryInterval: Double,
        statusInterval: Double
    ) {
        self.spool = spool
        self.delivery = delivery
        self.drainTimeout = drainTimeout
        self.keyRetryInterval = keyRetryInterval
        self.statusInterval = statusInterval
    }
}
