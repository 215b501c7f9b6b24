import EnchargeSpool

/// An open spool and, when this process delivers a SQLite spool, its owner lock, held as long as
/// this value lives.
package struct OpenedSpool: Sendable {
    /// The spool.
    package let spool: any EventSpool
    /// Held while this value lives; the kernel drops it when the process dies.
    let ownerLock: SpoolOwnerLock?
    /// Ends the backend's connections (PostgreSQL: the lanes this process held are free at once).
    private let closing: @Sendable () async -> Void

    init(spool: any EventSpool, ownerLock: SpoolOwnerLock?, close: @escaping @Sendable () async -> Void) {
        self.spool = spool
        self.ownerLock = ownerLock
        closing = close
    }

    /// Commits what is queued and closes the spool's connections; a SQLite spool closes when the
    /// last reference goes.
    package func close() async { await closing() }
}
