/// Knobs of `WebhookVerifier.verify` that most callers leave alone.
package struct WebhookVerificationOptions: Sendable, Equatable {
    /// How far, in seconds and in either direction, a signed timestamp may be from `now` (Stripe and
    /// Standard Webhooks; both providers recommend 300). `.infinity` skips the check, for example when
    /// a stored request is replayed long after it was received.
    package var tolerance: Double
    /// The current time in seconds since 1970; `nil` reads the clock. Tests pin it.
    package var now: Double?
    /// Settings of the generic `hmac` scheme; the other schemes ignore them.
    package var hmac: HMACOptions

    package init(tolerance: Double = 300, now: Double? = nil, hmac: HMACOptions = HMACOptions()) {
        self.tolerance = tolerance
        self.now = now
        self.hmac = hmac
    }
}
