import EnchargeKit
import EnchargeRules
import HTTPTypes
public import Hummingbird
import JSONKit
import Logging
import NIOCore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds the mock Encharge Ingest API: `POST /v1/` checks a request the way the real API's
/// contract says (write key, content type, JSON, event validation), answers 200
/// `{"success":true}`, and records the event; `GET /` and `GET /healthz` answer 200.
///
/// `onListening` runs once the socket is bound, with the real port when the configuration
/// asked for port 0. Run the result with `runService()` (stops on SIGINT/SIGTERM) or inside a
/// `ServiceGroup`; `withMockIngest` does the latter for tests.
public func buildMockIngestApplication(
    configuration: MockIngestConfiguration,
    onListening: @escaping @Sendable (MockIngestAddress) async -> Void = { _ in }
) throws(MockIngestError) -> some ApplicationProtocol {
    try configuration.validate()
    var logger = Logger(label: "mock-ingest") { EscapingLogHandler.standardError(label: $0) }
    logger.logLevel = configuration.logLevel
    var recorder: MockIngestRecorder?
    if let path = configuration.recordPath {
        recorder = try MockIngestRecorder(path: path)
    }
    let router = buildMockIngestRouter(configuration: configuration, recorder: recorder)
    let host = configuration.host
    let requestedPort = configuration.port
    return Application(
        router: router,
        configuration: ApplicationConfiguration(address: .hostname(host, port: requestedPort)),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? requestedPort
            await onListening(MockIngestAddress(host: host, port: port))
        },
        logger: logger)
}

/// Runs the mock until SIGINT or SIGTERM, after printing exactly one line to standard output,
/// `mock-ingest listening on http://HOST:PORT/v1/`, for scripts that need the port. A socket that
/// cannot be bound throws `MockIngestError` (`.notListening`) naming the address and the reason.
public func runMockIngest(configuration: MockIngestConfiguration) async throws {
    let app = try buildMockIngestApplication(configuration: configuration) { address in
        writeLineToStandardOutput("mock-ingest listening on \(address.ingestURL)")
    }
    do {
        try await app.runService()
    } catch let error as IOError {
        let address = MockIngestAddress(host: configuration.host, port: configuration.port)
        let reason = error.errnoCode == EADDRINUSE ? "address already in use" : String(cString: strerror(error.errnoCode))
        throw MockIngestError(.notListening, "cannot listen on \(address.baseURL.dropFirst("http://".count)): \(reason)")
    }
}

/// Starts the mock on its configured address (use port 0 for a free one), runs `body` with the
/// address it listens on, then shuts it down gracefully. For in-process tests.
@discardableResult
public func withMockIngest<Result: Sendable>(
    configuration: MockIngestConfiguration,
    _ body: (MockIngestAddress) async throws -> Result
) async throws -> Result {
    let (addresses, continuation) = AsyncStream.makeStream(of: MockIngestAddress.self)
    let app = try buildMockIngestApplication(configuration: configuration) { address in
        continuation.yield(address)
    }
    let group = ServiceGroup(configuration: .init(services: [app], logger: app.logger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            // Ends the wait below if the server stops before it listens (a port in use).
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = addresses.makeAsyncIterator()
        guard let address = await iterator.next() else {
            try await tasks.waitForAll()
            throw MockIngestError(.notListening, "the server stopped before it was listening")
        }
        let result: Result
        do {
            result = try await body(address)
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

/// The routes of the mock, separate from the server so they read on their own (and so the tests'
/// scripted Ingest server can fall back to the mock's own answer).
package func buildMockIngestRouter(
    configuration: MockIngestConfiguration, recorder: MockIngestRecorder?
) -> Router<MockIngestRequestContext> {
    let router = Router(context: MockIngestRequestContext.self)
    if configuration.verbose {
        router.add(middleware: MockIngestRequestLog())
    }
    let health: @Sendable (Request, MockIngestRequestContext) async throws -> Response = { _, _ in
        jsonResponse(.ok, ["status": "ok"])
    }
    router.get("/", use: health)
    router.get("/healthz", use: health)
    let endpoint = MockIngestEndpoint(configuration: configuration, recorder: recorder)
    // The router ignores a trailing slash, so this serves both `/v1` and `/v1/`.
    router.post("/v1", use: endpoint.ingest)
    for method: HTTPRequest.Method in [.get, .put, .patch, .delete] {
        router.on("/v1", method: method, use: endpoint.wrongMethod)
    }
    return router
}

/// The request context of the mock: Hummingbird's basics plus the connection, so that
/// `--drop-rate` can close it without answering.
package struct MockIngestRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    package var coreContext: CoreRequestContextStorage
    /// The connection the request arrived on.
    package let channel: any Channel

    package init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        channel = source.channel
    }
}

/// `POST /v1/`: fault injection first, then the checks of the Ingest contract in the order a
/// client would fix them (token, content type, size, JSON, event).
///
/// By default only what the Ingest API documentation states is enforced (`MockIngestContract`),
/// and the body is recorded byte for byte as received; with `strict`, the tool's own
/// `Event(validating:)` runs too, so a test can tell the API's rules from the tool's.
struct MockIngestEndpoint: Sendable {
    let writeKey: [UInt8]?
    let strict: Bool
    let latency: Duration
    let maxBodyBytes: Int
    let rateLimit: Int?
    let faults: MockIngestFaultInjector
    let recorder: MockIngestRecorder?

    init(configuration: MockIngestConfiguration, recorder: MockIngestRecorder?) {
        writeKey = configuration.writeKey.map { Array($0.utf8) }
        strict = configuration.strict
        latency = configuration.latency
        maxBodyBytes = configuration.maxBodyBytes
        rateLimit = configuration.rateLimit
        faults = MockIngestFaultInjector(
            dropRate: configuration.dropRate, failRate: configuration.failRate,
            rateLimit: configuration.rateLimit, seed: configuration.seed)
        self.recorder = recorder
    }

    static let tokenField = HTTPField.Name("X-Encharge-Token")!

    @Sendable func ingest(_ request: Request, context: MockIngestRequestContext) async throws -> Response {
        let fault = faults.decide()
        if latency > .zero {
            try await Task.sleep(for: latency)
        }
        switch fault {
        case .none:
            break
        case .rateLimited:
            throw MockIngestRejection(
                .tooManyRequests, "rate limit of \(rateLimit ?? 0) requests per second exceeded",
                headers: [.retryAfter: "1"])
        case .fail:
            throw MockIngestRejection(.internalServerError, "injected failure (--fail-rate)")
        case .drop:
            // Read the body first: closing a socket with unread input sends a reset, and the point
            // is a clean close with no answer (curl: "Empty reply from server").
            _ = try? await request.body.collect(upTo: maxBodyBytes)
            try? await context.channel.close()
            throw MockIngestConnectionDropped()
        }

        // The API requires the token on every request; without --write-key any value is accepted.
        guard let token = request.headers[Self.tokenField], !token.isEmpty else {
            throw MockIngestRejection(.unauthorized, "missing X-Encharge-Token header")
        }
        if let writeKey, !constantTimeEquals(Array(token.utf8), writeKey) {
            throw MockIngestRejection(.unauthorized, "invalid X-Encharge-Token")
        }
        guard isJSONContentType(request.headers[.contentType]) else {
            throw MockIngestRejection(.unsupportedMediaType, "Content-Type must be application/json")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw MockIngestRejection(.contentTooLarge, "request body is larger than \(maxBodyBytes) bytes")
        }
        let json: JSONValue
        do {
            json = try JSONValue(parsing: body.readableBytesView)
        } catch {
            throw MockIngestRejection(.badRequest, error.description)
        }
        if let violation = MockIngestContract.violation(in: json) {
            throw MockIngestRejection(.badRequest, violation)
        }
        if strict {
            do {
                _ = try Event(validating: json)
            } catch {
                throw MockIngestRejection(.badRequest, error.description)
            }
        }
        if let recorder {
            do {
                try recorder.append(Array(body.readableBytesView))
            } catch {
                context.logger.error("\(error.description)")
                throw MockIngestRejection(.internalServerError, "could not record the event")
            }
        }
        return jsonResponse(.ok, ["success": true])
    }

    /// Any other method on `/v1/`: the API takes only POST.
    @Sendable func wrongMethod(_ request: Request, context: MockIngestRequestContext) async throws -> Response {
        throw MockIngestRejection(.methodNotAllowed, "the Ingest API takes POST", headers: [.allow: "POST"])
    }
}

/// What the Ingest API documentation states about an event, and nothing more: a JSON object
/// with a string `name` and a `user` object holding an `email` or a `userId`.
enum MockIngestContract {
    /// Why `json` breaks the documented contract, or nil when it keeps it.
    static func violation(in json: JSONValue) -> String? {
        guard case .object(let event) = json else { return "the body must be a JSON object, not \(json.kindDescription)" }
        guard case .string(let name)? = event["name"], !name.isEmpty else { return "name: a non-empty string is required" }
        guard case .object(let user)? = event["user"] else { return "user: an object is required" }
        if isPresent(user["email"]) || isPresent(user["userId"]) { return nil }
        return "user: email or userId is required"
    }

    private static func isPresent(_ value: JSONValue?) -> Bool {
        switch value {
        case .string(let text)?: return !text.isEmpty
        case .integer?, .double?: return true
        default: return false
        }
    }
}

/// A refused ingest request, answered as `{"error":{"message":"..."}}`. The message never
/// contains the write key.
struct MockIngestRejection: HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    let headers: HTTPFields

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    var description: String { "\(status.code) \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        return jsonResponse(status, ["error": ["message": .string(message)]], headers: headers)
    }
}

/// Thrown after `--drop-rate` closed the connection: there is no one left to answer, and
/// Hummingbird's attempt to write its generic 500 fails on the closed channel.
struct MockIngestConnectionDropped: Error {}

func jsonResponse(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: value.encoded())))
}

/// `application/json`, with any parameters (`; charset=utf-8`), in any letter case.
func isJSONContentType(_ value: String?) -> Bool {
    guard let value else { return false }
    let mediaType = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    return mediaType.trimmingSpacesAndTabs().lowercased() == "application/json"
}

/// Compares a presented secret with the expected one in time that depends only on the
/// expected length, so a client cannot find the write key byte by byte.
func constantTimeEquals(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
    var difference = presented.count ^ expected.count
    for i in 0..<expected.count {
        let p = i < presented.count ? presented[i] : 0
        difference |= Int(p ^ expected[i])
    }
    return difference == 0
}

/// Writes one line to file descriptor 1 at once, bypassing stdio's buffer, so a script reading
/// the pipe sees it immediately.
func writeLineToStandardOutput(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(UInt8(ascii: "\n"))
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let n = write(1, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
    }
}

extension StringProtocol {
    fileprivate func trimmingSpacesAndTabs() -> Substring {
        let s = Substring(self)
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = s.firstIndex(where: { !isBlank($0) }), let end = s.lastIndex(where: { !isBlank($0) })
        else { return "" }
        return s[start...end]
    }
}
