import EnchargeKit
import HTTPTypes
public import Hummingbird
import JSONKit
import Logging
import NIOCore
import ServiceLifecycle
import SystemKit

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
    try buildMockIngestApplication(configuration: configuration, errors: .standardError, onListening: onListening)
}

/// `buildMockIngestApplication(configuration:onListening:)` with `--verbose`'s request lines
/// written to `errors`.
package func buildMockIngestApplication(
    configuration: MockIngestConfiguration, errors: any OutputWriter,
    onListening: @escaping @Sendable (MockIngestAddress) async -> Void = { _ in }
) throws(MockIngestError) -> some ApplicationProtocol {
    try configuration.validate()
    var logger = Logger(label: "mock-ingest") { EscapingLogHandler.standardError(label: $0) }
    logger.logLevel = configuration.logLevel
    var recorder: MockIngestRecorder?
    if let path = configuration.recordPath {
        recorder = try MockIngestRecorder(path: path)
    }
    let router = buildMockIngestRouter(configuration: configuration, recorder: recorder, errors: errors)
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

/// Runs the mock until SIGINT or SIGTERM, after writing exactly one line to `output` (standard
/// output for `mock-ingest`), `mock-ingest listening on http://HOST:PORT/v1/`, for scripts that need
/// the port; `--verbose` writes its request lines to `errors`. A socket that cannot be bound throws
/// `MockIngestError` (`.notListening`) naming the address and the reason.
package func runMockIngest(
    configuration: MockIngestConfiguration, output: any OutputWriter, errors: any OutputWriter
) async throws {
    let app = try buildMockIngestApplication(configuration: configuration, errors: errors) { address in
        output.write("mock-ingest listening on \(address.ingestURL)\n")
    }
    do {
        try await app.runService()
    } catch let error as IOError {
        let address = MockIngestAddress(host: configuration.host, port: configuration.port)
        let reason =
            error.errnoCode == EADDRINUSE ? "address already in use" : String(cString: strerror(error.errnoCode))
        throw MockIngestError(
            .notListening, "cannot listen on \(address.baseURL.dropFirst("http://".count)): \(reason)")
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
    configuration: MockIngestConfiguration, recorder: MockIngestRecorder?,
    errors: any OutputWriter = .standardError
) -> Router<MockIngestRequestContext> {
    let router = Router(context: MockIngestRequestContext.self)
    if configuration.verbose {
        router.add(middleware: MockIngestRequestLog(errors: errors))
    }
    let health: @Sendable (Request, MockIngestRequestContext) async throws -> Response = { _, _ in
        Response.json(.ok, ["status": "ok"])
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
