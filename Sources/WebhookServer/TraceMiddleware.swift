import EnchargeKit
import EnchargeRules
import HTTPTypes
import Hummingbird
import JSONKit
import SystemKit
import WebhookSignatures

/// `serve --trace`: writes one block per webhook request, once it is answered, to the rule's log
/// writer (standard error): `trace POST /stripe req_…`, what the rule did, and
/// `outcome: 202, 2 events` (or the refusal: `401 signature verification failed: …`).
///
/// A development aid that must not leak: the block names the request by method, path and id only,
/// never its query, headers or body; and the secrets the server knows (the `--verify` secret, the
/// bearer token, settings named like a secret) and the values of this request's signature and
/// credential headers are replaced by `[redacted]` wherever the rule's log lines or errors repeat them.
struct TraceMiddleware: RouterMiddleware {
    typealias Context = WebhookRequestContext

    let writer: any OutputWriter
    /// The secrets of the server's configuration (the request's credential headers join per request).
    let redaction: CredentialRedaction

    init(configuration: WebhookServerConfiguration) {
        writer = configuration.rule.logWriter
        redaction = CredentialRedaction(
            secrets: [configuration.verifySecret, configuration.authToken].compactMap { $0 },
            settings: configuration.rule.settings, hmacHeader: configuration.verifyOptions.hmac.header)
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let trace = RequestTrace()
        context.trace = trace
        let header = "\(request.method.rawValue) \(request.uri.path) \(context.requestID)"
        do {
            let response = try await next(request, context)
            let recorded = trace.value
            let detail = recorded.refusal.map { " " + $0 } ?? recorded.note.map { ", " + $0 } ?? ""
            write(header: header, trace: trace, outcome: "\(response.status.code)\(detail)", request: request)
            return response
        } catch let error as WebhookError {
            write(header: header, trace: trace, outcome: error.description, request: request)
            throw error
        } catch let error as any HTTPResponseError {
            write(header: header, trace: trace, outcome: "\(error.status.code)", request: request)
            throw error
        } catch {
            write(header: header, trace: trace, outcome: "500", request: request)
            throw error
        }
    }

    private func write(header: String, trace: RequestTrace, outcome: String, request: Request) {
        let block = TraceBlock.render(header: header, entries: trace.value.entries, outcome: outcome)
        let headers = request.headers.map { ($0.name.canonicalName, $0.value) }
        writer.write(redaction.including(headers: headers).redact(block))
    }
}
