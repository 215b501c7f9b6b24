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

    /// Headers whose values are credentials: every scheme's signature header, the `--hmac-header`,
    /// and any header named like one.
    static let credentialHeaders: Set<String> = [
        "stripe-signature", "x-hub-signature", "x-hub-signature-256", "x-shopify-hmac-sha256", "webhook-signature",
        "authorization", "proxy-authorization", "cookie",
    ]
    /// Words that make a header's or a setting's name a credential's.
    static let credentialWords = [
        "signature", "hmac", "token", "secret", "auth", "password", "api-key", "api_key", "apikey",
    ]
    /// Settings are also secret when named like a key (`stripe_key`, `signing_key`).
    static let settingCredentialWords = credentialWords + ["key"]
    /// Shorter values are not redacted: they would blank ordinary words out of the block.
    static let minimumSecretLength = 4

    let writer: any OutputWriter
    let hmacHeader: String
    /// The secrets of the server's configuration, as redactors.
    let secrets: [SecretRedactor]

    init(configuration: WebhookServerConfiguration) {
        writer = configuration.rule.logWriter
        hmacHeader = configuration.verifyOptions.hmac.header.lowercased()
        var values = [configuration.verifySecret, configuration.authToken].compactMap { $0 }
        for member in configuration.rule.settings.members
        where Self.settingCredentialWords.contains(where: member.key.lowercased().contains) {
            if let text = member.value.stringValue { values.append(text) }
        }
        secrets = values.filter { $0.utf8.count >= Self.minimumSecretLength }.map(SecretRedactor.init(secret:))
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
        var block = TraceBlock.render(header: header, entries: trace.value.entries, outcome: outcome)
        for redactor in secrets + credentials(of: request) { block = redactor.redact(block) }
        writer.write(block)
    }

    /// Redactors for this request's credential header values.
    private func credentials(of request: Request) -> [SecretRedactor] {
        request.headers.compactMap { field in
            let name = field.name.canonicalName.lowercased()
            guard
                Self.credentialHeaders.contains(name) || name == hmacHeader
                    || Self.credentialWords.contains(where: name.contains),
                field.value.utf8.count >= Self.minimumSecretLength
            else { return nil }
            return SecretRedactor(secret: field.value)
        }
    }
}
