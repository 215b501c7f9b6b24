import EnchargeSpool
import Foundation
import TestSupport
import Testing

@testable import WebhookServer

/// What needs a real socket: chunked bodies, keep-alive framing, oversized and slow headers. The
/// application is the one `serve` runs, with its channel handlers, on loopback.
@Suite struct WebhookConnectionTests {
    static let okRule = "function on_webhook(req) return 200 end\n"

    @Test func aChunkedBodyPastTheLimitIsAnswered413() async throws {
        let server = try WebhookTestServer(
            rule: """
                function on_webhook(req) encharge.track("A", { email = "ok@example.com" }, { seq = req.json.seq }) end
                """
        ) { $0.maxBodyBytes = 1024 }
        try await server.live { port in
            let head = #"{"email":"ok@example.com","seq":1000,"pad":""#
            let body = Array((head + String(repeating: "x", count: 4000 - head.utf8.count - 2) + "\"}").utf8)
            let tooBig = try await onThread {
                try RawHTTPConnection.send(
                    port: port, method: "POST", path: "/a", headers: [("Content-Type", "application/json")], body: body,
                    chunked: true)
            }
            #expect(tooBig.status == 413, "a chunked body past the limit: \(tooBig)")
            #expect(tooBig.headers["x-request-id"] != nil)
            let good = try await onThread {
                try RawHTTPConnection.postJSON(port: port, "/a", #"{"seq":1}"#)
            }
            #expect(good.status == 202, "a good request after the 413: \(good)")
        }
        #expect(try await server.spool.stats().pending == 1)
    }

    @Test func ruleFramingHeadersAreDroppedSoKeepAliveStaysInSync() async throws {
        let server = try WebhookTestServer(
            rule: """
                function on_webhook(req)
                  return { status = 200, body = "hello world",
                    headers = { ["Content-Length"] = "3", ["Connection"] = "close", ["X-Rule"] = "yes" } }
                end
                """)
        try await server.live { port in
            let (sent, first, second) = try await onThread {
                let connection = try RawHTTPConnection(port: port)
                let request =
                    "POST /a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                let sent = connection.write(request + request)
                return (sent, try connection.readResponse(), try connection.readResponse())
            }
            #expect(sent)
            #expect(first.head.hasPrefix("HTTP/1.1 200"), "\(first)")
            #expect(first.text == "hello world")
            #expect(first.head.lowercased().contains("x-rule: yes"))
            #expect(second.head.hasPrefix("HTTP/1.1 200"), "the second response is not intact: \(second)")
            #expect(second.text == "hello world")
        }
        #expect(
            server.log.text.contains("warning: the rule's response header Content-Length was dropped"),
            "\(server.log.text)")
        #expect(server.log.text.contains("warning: the rule's response header Connection was dropped"))
    }

    /// Oversized headers are answered with an error, not buffered: one field past 16 KiB, or more
    /// than 200 fields; the server goes on serving.
    @Test(arguments: ["a field of 20 KiB", "250 fields"])
    func oversizedHeadersAreRefused(_ what: String) async throws {
        let server = try WebhookTestServer(rule: Self.okRule)
        try await server.live { port in
            let headers: [(String, String)] =
                what == "250 fields"
                ? (0..<250).map { ("X-Field-\($0)", "v") } : [("X-Large", String(repeating: "a", count: 20 << 10))]
            let refused = try await onThread {
                try RawHTTPConnection.send(
                    port: port, method: "POST", path: "/", headers: headers, body: Array("{}".utf8))
            }
            #expect((400..<500).contains(refused.status), "\(what): \(refused.head)")
            let after = try await onThread { try RawHTTPConnection.postJSON(port: port, "/", "{}") }
            #expect(after.status == 200, "\(after)")
        }
    }

    @Test func slowHeadersAreCutOffAtTheHeaderTimeout() async throws {
        let server = try WebhookTestServer(rule: Self.okRule) { $0.headerTimeout = 1 }
        try await server.live { port in
            let (closed, elapsed) = try await onThread {
                let slow = try RawHTTPConnection(port: port)
                let head =
                    Array("POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)
                    + Array(repeating: UInt8(ascii: "a"), count: 100)
                let start = ContinuousClock.now
                var closed = false
                // A header byte every quarter second, well inside the 30 s idle timeout: only the
                // header timeout can end it. The pause paces the client; it waits for nothing.
                for byte in head {
                    if !slow.write([byte]) || slow.isClosedByServer {
                        closed = true
                        break
                    }
                    Thread.sleep(forTimeInterval: 0.25)
                }
                return (closed, ContinuousClock.now - start)
            }
            #expect(closed, "the slow connection was still open after \(elapsed)")
            #expect(elapsed < .seconds(5))
            // A prompt client is served as before, also after keeping its connection briefly idle.
            let replies = try await onThread {
                let prompt = try RawHTTPConnection(port: port)
                _ = prompt.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                let first = try prompt.readResponse()
                Thread.sleep(forTimeInterval: 0.3)
                _ = prompt.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                return [first, try prompt.readResponse()]
            }
            #expect(replies.count == 2 && replies.allSatisfy { $0.head.hasPrefix("HTTP/1.1 200") }, "\(replies)")
        }
    }
}
