import EnchargeKit
import Foundation
import HTTPTypes
import Hummingbird
import JSONKit
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// One request the loopback Ingest server received.
struct IngestRequest: Sendable {
    var body: [UInt8]
    var token: String?

    var json: JSONValue? { try? JSONValue(parsing: body) }
    /// `properties.seq` of the event, which the tests use to name events (nil for identify).
    var seq: Int? {
        if case .integer(let seq)? = json?["properties"]?["seq"] { return Int(seq) }
        return nil
    }
    var name: String? { json?["name"]?.stringValue }
    /// The identity key: `userId`, else `email`.
    var person: String? { json?["user"]?["userId"]?.stringValue ?? json?["user"]?["email"]?.stringValue }
}

/// How the server answers one request.
struct IngestReply: Sendable {
    var status: Int = 200
    var body: String = #"{"success":true}"#
    var retryAfter: String?
    var delay: Duration = .zero

    static let ok = IngestReply()
    static func status(_ status: Int, body: String = #"{"error":"scripted"}"#, retryAfter: String? = nil) -> IngestReply {
        IngestReply(status: status, body: body, retryAfter: retryAfter)
    }
}

/// A real HTTP/1.1 server on 127.0.0.1 with a free port, answering `POST /v1/` by a script and
/// recording every request in arrival order and every accepted (2xx) one in acceptance order.
final class LoopbackIngest: Sendable {
    /// Decides the reply to `request`, its `attempt`-th arrival (1-based, counted per identical body).
    typealias Script = @Sendable (_ request: IngestRequest, _ attempt: Int) -> IngestReply

    private struct Log {
        var received: [IngestRequest] = []
        var accepted: [IngestRequest] = []
        var arrivals: [[UInt8]: Int] = [:]
    }

    private let log = Mutex(Log())
    private let script: Mutex<Script>

    init(script: @escaping Script) { self.script = Mutex(script) }

    var received: [IngestRequest] { log.withLock { $0.received } }
    var accepted: [IngestRequest] { log.withLock { $0.accepted } }

    /// Replaces the script (e.g. the API starts accepting what it rejected).
    func answer(by script: @escaping Script) { self.script.withLock { $0 = script } }

    /// Starts a server, runs `body` with the endpoint URL, then stops it.
    static func with<Result: Sendable>(
        script: @escaping Script = { _, _ in .ok },
        _ body: (LoopbackIngest, String) async throws -> Result
    ) async throws -> Result {
        let server = LoopbackIngest(script: script)
        let router = Router()
        router.post("/v1") { request, _ in try await server.handle(request) }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "loopback-ingest")
        logger.logLevel = .critical
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { continuation.finish() }
                try await group.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                try await tasks.waitForAll()
                throw CancellationError()
            }
            let result: Result
            do {
                result = try await body(server, "http://127.0.0.1:\(port)/v1/")
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }

    private func handle(_ request: Request) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        let received = IngestRequest(
            body: Array(buffer.readableBytesView), token: request.headers[HTTPField.Name("X-Encharge-Token")!])
        let attempt = log.withLock { log in
            log.received.append(received)
            log.arrivals[received.body, default: 0] += 1
            return log.arrivals[received.body]!
        }
        let reply = script.withLock { $0 }(received, attempt)
        if reply.delay > .zero { try? await Task.sleep(for: reply.delay) }
        if (200...299).contains(reply.status) { log.withLock { $0.accepted.append(received) } }
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter = reply.retryAfter { headers[.retryAfter] = retryAfter }
        return Response(
            status: HTTPResponse.Status(code: reply.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: reply.body)))
    }
}

/// Runs blocking work (`SpoolDeliveryWorker.stop`, which waits for the engine) on its own thread,
/// so it never occupies a thread of Swift's cooperative pool that the in-process server needs.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}
