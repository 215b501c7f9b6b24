import Foundation
import TestSupport
import Testing

/// The scripted Ingest server does what its script says, seen byte for byte through the raw
/// HTTP connection: the mock's own answers, scripted answers and redirects, dropped connections,
/// keep-alive, and the request log.
@Suite struct ScriptedIngestServerTests {
    static let event = #"{"name":"Signed up","user":{"email":"ann@example.com"},"properties":{"seq":7}}"#

    static func post(_ port: Int, path: String = "/v1/", token: String? = "wk", body: String = event) -> String {
        var text = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/json\r\n"
        if let token { text += "X-Encharge-Token: \(token)\r\n" }
        return text + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
    }

    @Test func theMockAnswersByDefaultAndRefusesARequestWithoutAToken() async throws {
        try await ScriptedIngestServer.with { server, _ in
            let port = server.port
            let (accepted, refused) = try await onThread {
                let connection = try RawHTTPConnection(port: port)
                connection.write(Self.post(port))
                let accepted = try connection.readResponse()
                connection.write(Self.post(port, token: nil))
                return (accepted, try connection.readResponse())
            }
            #expect(accepted.status == 200 && accepted.text == #"{"success":true}"#)
            #expect(refused.status == 401 && refused.text.contains("missing X-Encharge-Token header"))
            let received = server.received
            #expect(received.count == 2 && server.accepted.count == 1)
            #expect(received.first?.seq == 7 && received.first?.person == "ann@example.com")
            #expect(received.first?.token == "wk" && received.last?.token == nil)
            #expect(received.first?.remotePort != nil && received.first?.remotePort == received.last?.remotePort)
        }
    }

    @Test func scriptedAnswersCountAttemptsPerBodyAndCarryTheirHeaders() async throws {
        try await ScriptedIngestServer.with(script: { request, attempt in
            // Attempts count arrivals of the same body on any path: the redirect was the first.
            if request.path == "/v1/" { return .redirect(308, to: "/v1/moved") }
            return attempt == 2
                ? .status(503, body: "busy", retryAfter: "7") : IngestReply(headers: [("X-Trace", "t1")])
        }) { server, _ in
            let port = server.port
            let replies = try await onThread {
                try (0..<3).map { index in
                    try RawHTTPConnection.send(
                        port: port, method: "POST", path: index == 0 ? "/v1/" : "/v1/moved",
                        headers: [("Content-Type", "application/json")], body: Array(Self.event.utf8))
                }
            }
            #expect(replies.map(\.status) == [308, 503, 200])
            #expect(replies[0].headers["location"] == "/v1/moved")
            #expect(replies[1].headers["retry-after"] == "7" && replies[1].text == "busy")
            #expect(replies[2].headers["x-trace"] == "t1")
            #expect(server.received.map(\.path) == ["/v1/", "/v1/moved", "/v1/moved"])
            #expect(server.accepted.map(\.path) == ["/v1/moved"])
        }
    }

    @Test func aDroppedConnectionClosesWithoutAnAnswer() async throws {
        try await ScriptedIngestServer.with(script: { _, _ in .drop }) { server, _ in
            let port = server.port
            let rest = try await onThread {
                let connection = try RawHTTPConnection(port: port)
                connection.write(Self.post(port))
                return try connection.readToEnd()
            }
            #expect(rest.isEmpty)
            #expect(server.received.count == 1 && server.accepted.isEmpty)
            await eventually("the server lets go of the dropped connection") {
                server.openConnections == 0 && server.inFlight == 0
            }
        }
    }

    @Test func aReplyWaitsItsDelayWhileOthersAreAnswered() async throws {
        try await ScriptedIngestServer.with(script: { request, _ in
            request.seq == 1 ? IngestReply.ok.delayed(by: .seconds(1)) : .ok
        }) { server, _ in
            let port = server.port
            let slow = Task {
                try await onThread { try RawHTTPConnection.postJSON(port: port, "/v1/", #"{"properties":{"seq":1}}"#) }
            }
            await eventually("the slow request is in flight") { server.inFlight == 1 }
            let fast = try await onThread {
                try RawHTTPConnection.postJSON(port: port, "/v1/", #"{"properties":{"seq":2}}"#)
            }
            #expect(fast.status == 200)
            #expect(server.accepted.map(\.seq) == [2])
            #expect(try await slow.value.status == 200)
            #expect(server.accepted.map(\.seq) == [2, 1] && server.maxInFlight == 2)
        }
    }

    @Test func aChunkedResponseIsReadWholeAndTheNextOneFollows() throws {
        let bytes = Array(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
                .utf8)
        let (first, used) = try #require(RawHTTPConnection.parse(bytes, complete: false))
        #expect(first.status == 200 && first.text == "abcde")
        let (second, _) = try #require(RawHTTPConnection.parse(Array(bytes[used...]), complete: false))
        #expect(second.status == 204 && second.body.isEmpty)
        #expect(RawHTTPConnection.parse(Array(bytes.prefix(40)), complete: false) == nil)
    }

    @Test func aTemporaryDirectoryIsFreshAndRemoved() async throws {
        let path = try await TemporaryDirectory.with(prefix: "support") { directory in
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
            _ = try directory.write("a.txt", "one\n\ntwo\n")
            #expect(directory.lines("a.txt") == ["one", "two"])
            return directory.path
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
