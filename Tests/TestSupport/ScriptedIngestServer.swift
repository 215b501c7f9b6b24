import Foundation
import HTTPTypes
import Hummingbird
import JSONKit
import Logging
import MockIngest
import NIOCore
import Synchronization

/// One request the scripted Ingest server received.
public struct IngestRequest: Sendable {
    /// The request method (`POST` for every client of the Ingest API).
    public var method: String
    /// The path as sent, e.g. `/v1/` (a redirect target may be any path).
    public var path: String
    /// The body, byte for byte.
    public var body: [UInt8]
    /// The `X-Encharge-Token` header.
    public var token: String?
    /// The `Content-Type` header.
    public var contentType: String?
    /// The `User-Agent` header.
    public var userAgent: String?
    /// The `Host` header (a redirect must not leave the host).
    public var host: String?
    /// The client's port: one per connection, so tests can count connections (keep-alive).
    public var remotePort: Int?
    /// The server's port, for a script that redirects to another host name of this server.
    public var serverPort: Int

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
    /// The body as JSON, when it parses.
    public var json: JSONValue? { try? JSONValue(parsing: body) }
    /// `properties.seq` of the event, which the tests use to name events (nil for identify).
    public var seq: Int? {
        if case .integer(let seq)? = json?["properties"]?["seq"] { return Int(seq) }
        return nil
    }
    /// The event's `name`.
    public var name: String? { json?["name"]?.stringValue }
    /// The identity key: `user.userId`, else `user.email`.
    public var person: String? { json?["user"]?["userId"]?.stringValue ?? json?["user"]?["email"]?.stringValue }
}

/// How the scripted Ingest server answers one request.
public struct IngestReply: Sendable {
    /// What the server does once `delay` has passed.
    public enum Action: Sendable {
        /// Answers `status`, `body` and the headers below.
        case answer
        /// Lets the mock Ingest API answer, as `encharge-lua mock-ingest` would (write key,
        /// content type, JSON, the documented event contract).
        case mock
        /// Reads the body and closes the connection without an answer.
        case drop
    }

    /// What to do.
    public var action: Action = .answer
    /// The status of an `.answer`.
    public var status: Int = 200
    /// The body of an `.answer` (sent as `application/json`).
    public var body: String = #"{"success":true}"#
    /// A `Retry-After` header.
    public var retryAfter: String?
    /// A `Location` header, for redirects.
    public var location: String?
    /// More response headers.
    public var headers: [(name: String, value: String)] = []
    /// How long to wait before acting: a slow server is the behaviour under test.
    public var delay: Duration = .zero

    /// Creates a reply; every part defaults to an immediate 200 `{"success":true}`.
    public init(
        action: Action = .answer, status: Int = 200, body: String = #"{"success":true}"#, retryAfter: String? = nil,
        location: String? = nil, headers: [(name: String, value: String)] = [], delay: Duration = .zero
    ) {
        self.action = action
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
        self.location = location
        self.headers = headers
        self.delay = delay
    }

    /// 200 `{"success":true}` for anything.
    public static let ok = IngestReply()
    /// The mock Ingest API's own answer.
    public static let mock = IngestReply(action: .mock)
    /// The connection closed without an answer (curl: "Empty reply from server").
    public static let drop = IngestReply(action: .drop)

    /// `status` with an error body and, optionally, `Retry-After`.
    public static func status(_ status: Int, body: String = #"{"error":"scripted"}"#, retryAfter: String? = nil) -> Self
    {
        IngestReply(status: status, body: body, retryAfter: retryAfter)
    }

    /// A redirect with `status` (301, 302, 303, 307, 308) to `location`.
    public static func redirect(_ status: Int, to location: String) -> Self {
        IngestReply(status: status, body: "", location: location)
    }

    /// This reply after waiting `delay`.
    public func delayed(by delay: Duration) -> Self {
        var reply = self
        reply.delay = delay
        return reply
    }
}

/// A real HTTP/1.1 Ingest API on 127.0.0.1 with a free port: the mock Ingest API's router
/// (`buildMockIngestRouter`) behind a script that sees every request on any path and method
/// first. The script decides per request: an answer of its own (status, body, headers), a
/// redirect, the mock's answer, or a dropped connection, each after an optional delay. Every
/// request is recorded in arrival order, and every one answered 2xx in acceptance order.
public final class ScriptedIngestServer: Sendable {
    /// Decides the reply to `request`, its `attempt`-th arrival (1-based, counted per identical body).
    public typealias Script = @Sendable (_ request: IngestRequest, _ attempt: Int) -> IngestReply

    private struct Log {
        var received: [IngestRequest] = []
        var accepted: [IngestRequest] = []
        var arrivals: [[UInt8]: Int] = [:]
        var inFlight = 0
        var maxInFlight = 0
        var openConnections: Set<ObjectIdentifier> = []
    }

    private let log = Mutex(Log())
    /// Holds the script in a struct: reading a bare closure out of a `Mutex` (`withLock { $0 }`)
    /// re-wraps it in reabstraction thunks each time, and after some ten thousand requests the
    /// nested thunks overflow the stack.
    private struct ScriptBox { var script: Script }
    private let script: Mutex<ScriptBox>
    /// The port the server listens on (set before any request arrives).
    public let port: Int

    private init(script: @escaping Script, port: Int) {
        self.script = Mutex(ScriptBox(script: script))
        self.port = port
    }

    /// `http://127.0.0.1:PORT/v1/`, what `--endpoint` takes.
    public var endpoint: String { "http://127.0.0.1:\(port)/v1/" }
    /// Every request, in arrival order.
    public var received: [IngestRequest] { log.withLock { $0.received } }
    /// Every request answered 2xx, in the order the answers were decided.
    public var accepted: [IngestRequest] { log.withLock { $0.accepted } }
    /// Most requests the server was handling at once.
    public var maxInFlight: Int { log.withLock { $0.maxInFlight } }
    /// Requests the server is handling now (received, not yet answered or dropped).
    public var inFlight: Int { log.withLock { $0.inFlight } }
    /// Connections that carried a request and are still open: 0 once every client went away.
    public var openConnections: Int { log.withLock { $0.openConnections.count } }

    /// Replaces the script (e.g. the API starts accepting what it rejected).
    public func answer(by script: @escaping Script) { self.script.withLock { $0.script = script } }

    /// Starts a server that answers by `script` (default: the mock Ingest API's own answers, with
    /// `configuration`'s write key and limits), runs `body` with it and its endpoint URL
    /// (`http://127.0.0.1:PORT/v1/`), then stops it.
    public static func with<Result: Sendable>(
        configuration: MockIngestConfiguration = MockIngestConfiguration(logLevel: .critical),
        script: @escaping Script = { _, _ in .mock },
        _ body: (ScriptedIngestServer, String) async throws -> Result
    ) async throws -> Result {
        let box = Mutex<ScriptedIngestServer?>(nil)
        let mock = buildMockIngestRouter(configuration: configuration, recorder: nil).buildResponder()
        let responder = ScriptedIngestResponder(mock: mock, maxBodyBytes: configuration.maxBodyBytes) {
            box.withLock { $0! }
        }
        var logger = Logger(label: "scripted-ingest")
        logger.logLevel = .critical
        let application = Application(responder: responder, logger: logger)
        return try await withLiveApplication(application) { port in
            let server = ScriptedIngestServer(script: script, port: port)
            box.withLock { $0 = server }
            return try await body(server, server.endpoint)
        }
    }

    /// Records `request`, arrived on `channel`, and returns the reply the script chose for it.
    fileprivate func arrived(_ request: IngestRequest, on channel: any Channel) -> IngestReply {
        let connection = ObjectIdentifier(channel)
        let (attempt, newConnection) = log.withLock { log in
            log.received.append(request)
            log.inFlight += 1
            log.maxInFlight = max(log.maxInFlight, log.inFlight)
            log.arrivals[request.body, default: 0] += 1
            return (log.arrivals[request.body]!, log.openConnections.insert(connection).inserted)
        }
        if newConnection {
            channel.closeFuture.whenComplete { _ in _ = self.log.withLock { $0.openConnections.remove(connection) } }
        }
        return script.withLock { $0.script }(request, attempt)
    }

    /// Records how `request` ended.
    fileprivate func answered(_ request: IngestRequest, status: Int?) {
        log.withLock { log in
            log.inFlight -= 1
            if let status, (200...299).contains(status) { log.accepted.append(request) }
        }
    }
}

/// Sees every request before the mock's router: records it, asks the script, acts.
private struct ScriptedIngestResponder<Mock: HTTPResponder>: HTTPResponder
where Mock.Context == MockIngestRequestContext {
    typealias Context = MockIngestRequestContext

    static var tokenField: HTTPField.Name { HTTPField.Name("X-Encharge-Token")! }

    let mock: Mock
    let maxBodyBytes: Int
    let server: @Sendable () -> ScriptedIngestServer

    func respond(to request: Request, context: Context) async throws -> Response {
        var request = request
        // Collected with room above the mock's limit, so the mock still answers 413 itself; the
        // collected body stays readable for the mock's router.
        let buffer = try await request.collectBody(upTo: maxBodyBytes * 2 + 1)
        let received = IngestRequest(
            method: request.method.rawValue, path: request.uri.path, body: Array(buffer.readableBytesView),
            token: request.headers[Self.tokenField], contentType: request.headers[.contentType],
            userAgent: request.headers[.userAgent], host: request.head.authority,
            remotePort: context.channel.remoteAddress?.port, serverPort: context.channel.localAddress?.port ?? 0)
        let server = server()
        let reply = server.arrived(received, on: context.channel)
        if reply.delay > .zero { try? await Task.sleep(for: reply.delay) }
        switch reply.action {
        case .answer:
            server.answered(received, status: reply.status)
            var headers: HTTPFields = [.contentType: "application/json"]
            if let retryAfter = reply.retryAfter { headers[.retryAfter] = retryAfter }
            if let location = reply.location { headers[.location] = location }
            for (name, value) in reply.headers { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
            return Response(
                status: HTTPResponse.Status(code: reply.status), headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(string: reply.body)))
        case .mock:
            do {
                let response = try await mock.respond(to: request, context: context)
                server.answered(received, status: response.status.code)
                return response
            } catch let error as any HTTPResponseError {
                server.answered(received, status: error.status.code)
                throw error
            } catch {
                server.answered(received, status: nil)
                throw error
            }
        case .drop:
            // The body was read above: closing with unread input would send a reset, and the
            // point is a clean close with no answer.
            server.answered(received, status: nil)
            try? await context.channel.close()
            throw ScriptedIngestConnectionDropped()
        }
    }
}

/// Thrown after a `.drop` closed the connection: nobody is left to answer.
private struct ScriptedIngestConnectionDropped: Error {}

/// Runs blocking work (a delivery engine's `submit`/`finish`, a worker's `stop`, the binary) on a
/// thread of its own, so it never occupies a thread of Swift's cooperative pool that an
/// in-process server needs.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}
