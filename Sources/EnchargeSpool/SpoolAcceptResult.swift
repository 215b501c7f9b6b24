/// What `EventSpool.accept` did with a request.
package enum SpoolAcceptResult: Sendable, Hashable {
    /// The request's events are on disk and will be delivered.
    case accepted
    /// Its dedup key was seen within the dedup window; nothing was stored.
    case duplicate
}
