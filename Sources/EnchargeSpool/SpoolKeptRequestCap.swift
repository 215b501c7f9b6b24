/// How many failed requests a spool keeps for replay, and how many bytes of request text; past
/// either, the oldest are deleted (`serve --max-kept-requests`, `--max-kept-bytes`).
public struct SpoolKeptRequestCap: Sendable, Equatable {
    public var maxCount: Int
    public var maxBytes: Int

    public init(maxCount: Int = 10_000, maxBytes: Int = 256 << 20) {
        self.maxCount = maxCount
        self.maxBytes = maxBytes
    }
}
