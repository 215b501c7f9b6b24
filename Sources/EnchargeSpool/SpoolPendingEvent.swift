import EnchargeKit

/// A pending event as the delivery worker reads it from a spool.
package struct SpoolPendingEvent: Sendable, Hashable {
    /// Its place in spool order; the delivery engine's tag for it.
    package var id: Int64
    /// The spool's id of the accepted request it came from (consecutive events of one request go to
    /// the engine as one group).
    package var request: Int64
    /// The request id the server gave the request (for dead-event reports).
    package var requestID: String
    /// What received it, e.g. `POST /stripe`.
    package var source: String
    /// `SpoolLanes.lane(ofIdentityKey: identityKey)`, as stored at accept time.
    package var lane: Int
    /// The per-person ordering key, as stored at accept time.
    package var identityKey: String
    /// The wire body exactly as accepted: validated then, so trusted now.
    package var wire: [UInt8]

    package init(
        id: Int64, request: Int64, requestID: String, source: String, lane: Int, identityKey: String, wire: [UInt8]
    ) {
        self.id = id
        self.request = request
        self.requestID = requestID
        self.source = source
        self.lane = lane
        self.identityKey = identityKey
        self.wire = wire
    }

    /// The event to send, built from the stored bytes without parsing or validating them again.
    package var event: Event { Event(trustedWire: wire, identityKey: identityKey) }
}
