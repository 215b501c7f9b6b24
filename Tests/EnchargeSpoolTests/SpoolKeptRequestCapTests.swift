import EnchargeSpool
import JSONKit
import TestSupport
import Testing

/// Kept failed requests stay within a count and a byte cap; the oldest go first.
@Suite struct SpoolKeptRequestCapTests {
    /// A kept request whose stored text is a little over `bytes` long.
    func request(_ bytes: Int) -> JSONValue {
        .object(JSONObject([("body_base64", .string(String(repeating: "x", count: bytes)))]))
    }

    @Test func theOldestKeptRequestsAreDroppedPastTheCountCap() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let spool = try SQLiteSpool(path: path)
        let cap = SpoolKeptRequestCap(maxCount: 3, maxBytes: 1 << 20)
        for n in 1...3 {
            let dropped = try await spool.keepFailedRequest(
                requestID: "r\(n)", request: request(10), error: "boom", traceback: nil, cap: cap)
            #expect(dropped.isEmpty)
        }
        let dropped = try await spool.keepFailedRequest(
            requestID: "r4", request: request(10), error: "boom", traceback: nil, cap: cap)
        #expect(dropped == ["r1"])
        #expect(try await spool.failedRequests().map(\.requestID) == ["r2", "r3", "r4"])
    }

    @Test func theOldestKeptRequestsAreDroppedPastTheByteCap() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let spool = try SQLiteSpool(path: path)
        let cap = SpoolKeptRequestCap(maxCount: 100, maxBytes: 2_500)
        try await spool.keepFailedRequest(
            requestID: "r1", request: request(1_000), error: "boom", traceback: nil, cap: cap)
        try await spool.keepFailedRequest(
            requestID: "r2", request: request(1_000), error: "boom", traceback: nil, cap: cap)
        let dropped = try await spool.keepFailedRequest(
            requestID: "r3", request: request(1_000), error: "boom", traceback: nil, cap: cap)
        #expect(dropped == ["r1"])
        #expect(try await spool.failedRequests().map(\.requestID) == ["r2", "r3"])
        // One request larger than the whole cap is still kept (the newest always is).
        let big = try await spool.keepFailedRequest(
            requestID: "r4", request: request(5_000), error: "boom", traceback: nil, cap: cap)
        #expect(big == ["r2", "r3"])
        #expect(try await spool.failedRequests().map(\.requestID) == ["r4"])
    }
}
