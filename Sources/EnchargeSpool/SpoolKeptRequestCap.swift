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
