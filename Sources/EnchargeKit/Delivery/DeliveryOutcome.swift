/// How the delivery engine settled one tagged event, reported to a `DeliverySettledHandler`.
public enum DeliveryOutcome: Sendable, Hashable {
    /// The Ingest API accepted the event (2xx).
    case delivered
    /// Given up on: a terminal status (4xx other than 408, 425, 429), an error retrying cannot fix,
    /// or every attempt failed. The error carries the reason, the last HTTP status and response
    /// body, and the attempts made.
    case dead(DeliveryError)
    /// Not delivered because `finish(timeout:)` ran out of time, `interrupt(drainTimeout:)` was
    /// called, the event was submitted after `finish`, or the engine stopped on its own (a refused
    /// write key, a redirect it must not follow: error kind `.writeKeyRefused` or `.redirected`, see
    /// `DeliveryStop`). The error carries the last failure, if an attempt was made. The API never
    /// answered 2xx for it, so sending it again later (with the cause fixed) is safe.
    case interrupted(DeliveryError)
}

/// Called once for every tagged event when the engine settles it, with the event's tag (see
/// `DeliveryEngine.submit(_:source:tags:)`). It runs on one of the engine's sender threads, one call at a
/// time (or on the submitting thread for events submitted after `finish`), after any dead-letter entry was written
/// and outside the engine's lock; it must return quickly and must not call back into the engine.
public typealias DeliverySettledHandler = @Sendable (_ tag: Int64, _ outcome: DeliveryOutcome) -> Void
