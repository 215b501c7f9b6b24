import Foundation
import HTTPTypes
import Hummingbird
import JSONKit
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// One request the scripted server received.
struct ReceivedRequest: Sendable {
    var path: String
    var body: [UInt8]
    var token: String?
    var contentType: String?
    var userAgent: String?
    /// Remote port of the connection, to count connections (keep-alive).
    var remotePort: Int?

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue? { try? JSONValue(parsing: body) }
    /// `properties.seq` of the event, which the tests use to name events.
    var seq: Int? {
        if case .integer(let seq)? = json?["properties"]?["seq"] { return Int(seq) }
        return nil
    }
    var name: String? { json?["name"]?.stringValue }
    var userKey: String? { json?["user"]?["userId"]?.stringValue ?? json?["user"]?["email"]?.stringValue }
}

/// How the scripted server answers one request.
struct ScriptedReply: Sendable {
    var status: Int = 200
    var body: String = #"{"success":true}"#
    var retryAfter: String?
    /// Waits this long before answering.
    var delay: Duration = .zero
    /// A `Location` header, for redirects.
    var location: String?

    static let ok = ScriptedReply()
    static func status(_ status: Int, body: String = #"{"error":"scripted"}"#, retryAfter: String? = nil) -> ScriptedReply {
        ScriptedReply(status: status, body: body, retryAfter: retryAfter)
    }
    static func redirect(_ status: Int, to location: String) -> ScriptedReply {
        ScriptedReply(status: status, body: "", location: location)
    }
}

/// A real HTTP/1.1 server on 127.0.0.1 with a free port, answering `POST /v1/` (and any other
/// POST path, for redirects) by a script and recording every request in arrival order and every
/// accepted (2xx) one in acceptance order.
final class ScriptedIngestServer: Sendable {
    /// Decides the reply to `request`, its `attempt`-th arrival (1-based, counted per identical body).
    typealias Script = @Sendable (_ request: ReceivedRequest, _ attempt: Int) -> ScriptedReply

    private struct Log {
        var received: [ReceivedRequest] = []
        var accepted: [ReceivedRequest] = []
        var arrivals: [[UInt8]: Int] = [:]
        var inFlight = 0
        var maxInFlight = 0
    }

    private let log = Mutex(Log())
    private let script: Script

    init(script: @escaping Script) { self.script = script }

    var received: [ReceivedRequest] { log.withLock { $0.received } }
    var accepted: [ReceivedRequest] { log.withLock { $0.accepted } }
    /// Most requests the server was handling at once.
    var maxInFlight: Int { log.withLock { $0.maxInFlight } }

    /// Starts a server that answers by `script`, runs `body` with the endpoint URL, then stops it.
    static func with<Result: Sendable>(
        script: @escaping Script = { _, _ in .ok },
        _ body: (ScriptedIngestServer, String) async throws -> Result
    ) async throws -> Result {
        let server = ScriptedIngestServer(script: script)
        let router = Router(context: ConnectionRequestContext.self)
        router.post("/v1") { request, context in try await server.handle(request, context) }
        router.post("**") { request, context in try await server.handle(request, context) }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "scripted-ingest")
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

    private func handle(_ request: Request, _ context: ConnectionRequestContext) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        let received = ReceivedRequest(
            path: request.uri.path, body: Array(buffer.readableBytesView),
            token: request.headers[HTTPField.Name("X-Encharge-Token")!],
            contentType: request.headers[.contentType], userAgent: request.headers[.userAgent],
            remotePort: context.remotePort)
        let attempt = log.withLock { log in
            log.received.append(received)
            log.inFlight += 1
            log.maxInFlight = max(log.maxInFlight, log.inFlight)
            log.arrivals[received.body, default: 0] += 1
            return log.arrivals[received.body]!
        }
        let reply = script(received, attempt)
        if reply.delay > .zero { try? await Task.sleep(for: reply.delay) }
        log.withLock { log in
            log.inFlight -= 1
            if (200...299).contains(reply.status) { log.accepted.append(received) }
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter = reply.retryAfter { headers[.retryAfter] = retryAfter }
        if let location = reply.location { headers[.location] = location }
        return Response(
            status: HTTPResponse.Status(code: reply.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: reply.body)))
    }
}

/// Hummingbird's basic context plus the client's port, so tests can count connections.
struct ConnectionRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remotePort: Int?

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remotePort = source.channel.remoteAddress?.port
    }
}

/// Runs blocking work (the delivery engine's `submit` and `finish`) on its own thread, so it never
/// occupies a thread of Swift's cooperative pool that the in-process server needs.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}
