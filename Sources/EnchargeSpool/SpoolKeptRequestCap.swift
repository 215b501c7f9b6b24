/// How many failed requests a spool keeps for replay, and how many bytes of request text; past
/// either, the oldest are deleted (`serve --max-kept-requests`, `--max-kept-bytes`).
package struct SpoolKeptRequestCap: Sendable, Equatable {
    package var maxCount: Int
    package var maxBytes: Int

    package init(maxCount: Int = 10_000, maxBytes: Int = 256 << 20) {
        self.maxCount = maxCount
        self.maxBytes = maxBytes
    }
}

extension SpoolKeptRequestCap {
    /// The kept requests to delete so the rest fit: walking from the newest, a request stays while
    /// one more still fits both the count and the bytes (the newest always stays). Every backend
    /// trims with it; returns the ids of the others, oldest first.
    package func overflow(newestFirst requests: [(id: String, bytes: Int)]) -> [String] {
        var kept = 0
        var bytes = 0
        var dropped: [String] = []
        for request in requests {
            if kept == 0 || (kept < maxCount && bytes + request.bytes <= maxBytes) {
                kept += 1
                bytes += request.bytes
            } else {
                dropped.append(request.id)
            }
        }
        return dropped.reversed()
    }
}
