import EnchargeKit
import EnchargeRules
import EnchargeSpool
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONKit
import Logging
import MockIngest
import NIOCore
import Synchronization
import SystemKit
import TestSupport
import Testing

@testable import WebhookServer

/// The webhook server's parts, in process: a rules file and a spool in a fresh folder, a rule
/// pool, a delivery worker (not started unless a test delivers) and the application built from
/// them, as `serve` builds it.
final class WebhookTestServer: Sendable {
    static let writeKey = "in-process-serve-write-key-41c7"
    /// The mock Ingest API the tests deliver to: it requires `writeKey`.
    static let ingest = MockIngestConfiguration(writeKey: writeKey, logLevel: .critical)

    let directory: TemporaryDirectory
    let configuration: WebhookServerConfiguration
    let pool: RulePool
    let spool: SQLiteSpool
    let worker: SpoolDeliveryWorker
    /// What the server logged, escaped as `serve` escapes it.
    let log = CapturedLog()

    /// `rule` written to `rules.lua`; `endpoint` is where the worker delivers once started.
    init(
        rule: String, endpoint: String = "http://127.0.0.1:9/v1/",
        _ configure: (inout WebhookServerConfiguration) -> Void = { _ in }
    ) throws {
        directory = try TemporaryDirectory(prefix: "serve")
        let rulesPath = try directory.write("rules.lua", rule)
        var delivery = DeliveryConfiguration(
            endpoint: endpoint, writeKey: Self.writeKey,
            userAgent: DeliveryConfiguration.userAgent(version: "0.0.0-test"),
            concurrency: 4, connectTimeout: 10, requestTimeout: 60, maxAttempts: 4, backoffBase: 0.05, backoffCap: 0.5)
        delivery.writeKeySource = "ENCHARGE_WRITE_KEY"
        var configuration = WebhookServerConfiguration(rule: RuleOptions(rulesPath: rulesPath), delivery: delivery)
        configuration.port = 0
        configure(&configuration)
        self.configuration = configuration
        pool = try RulePool(
            options: configuration.rule, size: configuration.workers, maxWaiting: configuration.maxWaiting)
        spool = try SQLiteSpool(path: directory.file("spool.sqlite"))
        worker = try SpoolDeliveryWorker(spool: spool, configuration: delivery)
    }

    deinit {
        pool.stop()
        directory.cleanup()
    }

    /// The application `serve` runs, on port 0.
    func application(metrics: WebhookMetrics = WebhookMetrics()) -> some ApplicationProtocol {
        let router = buildRouter(
            configuration: configuration, pool: pool, spool: spool, worker: worker, metrics: metrics, logger: logger)
        return Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            logger: logger)
    }

    /// Runs the application `serve` builds (with its channel handlers: header timeout, header
    /// limits, connection cap) on a loopback socket for `body`, which gets the port. `errors` holds
    /// what the server writes to standard error.
    func live<Value: Sendable>(
        errors: OutputBuffer = OutputBuffer(), _ body: (_ port: Int) async throws -> Value
    ) async throws -> Value {
        let application = buildApplication(
            configuration: configuration, pool: pool, spool: spool, worker: worker, logger: logger, errors: errors
        ) { _ in }
        return try await withLiveApplication(application, body)
    }

    /// Runs `body` against the router in process (no socket).
    func test<Value: Sendable>(
        metrics: WebhookMetrics = WebhookMetrics(), _ body: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        try await application(metrics: metrics).test(.router, body)
    }

    /// The server's logger: escaped as `serve` escapes it, into `log`.
    var logger: Logger {
        let log = self.log
        var logger = Logger(label: "webhook-test") { _ in EscapingLogHandler(wrapping: CapturingLogHandler(log: log)) }
        logger.logLevel = .info
        return logger
    }

    /// The failed requests kept for replay.
    func keptRequests() async throws -> [SpoolFailedRequest] { try await spool.failedRequests() }
}

extension TestClientProtocol {
    /// `POST path` with a JSON body.
    func postJSON(_ path: String, _ json: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var fields = headers
        fields[.contentType] = "application/json"
        return try await execute(uri: path, method: .post, headers: fields, body: ByteBuffer(string: json))
    }

    /// `method path` with raw body bytes.
    func send(
        _ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: [UInt8] = []
    ) async throws -> TestResponse {
        try await execute(uri: path, method: method, headers: headers, body: ByteBuffer(bytes: body))
    }
}

extension TestResponse {
    /// The body as text.
    var text: String { String(buffer: body) }

    /// The body as a JSON object, or nil.
    var json: JSONObject? {
        guard case .object(let object)? = try? JSONValue(parsing: body.readableBytesView) else { return nil }
        return object
    }

    /// The `message` of an error answer (`{"error":{"message":...}}`), or "".
    var errorMessage: String {
        guard case .object(let error)? = json?["error"], case .string(let message)? = error["message"] else {
            return ""
        }
        return message
    }

    static let requestID = HTTPField.Name("X-Request-Id")!
}

/// Log lines kept in memory: the message, then each metadata `key=value`, sorted by key.
final class CapturedLog: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    /// Every line so far, one per line.
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

/// Writes each log event to a `CapturedLog`.
struct CapturingLogHandler: LogHandler {
    let log: CapturedLog
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        log.append(([event.message.description] + fields).joined(separator: " "))
    }
}
