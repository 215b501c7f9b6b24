import Hummingbird
import Logging
import WebhookSignatures

/// Checks the `--verify` signature scheme on the body before Lua sees it; a request that fails
/// is answered 401 with the reason (which never contains the secret) and logged.
struct SignatureMiddleware: RouterMiddleware {
    typealias Context = WebhookRequestContext

    let scheme: WebhookScheme
    let secret: String
    let options: WebhookVerificationOptions
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            try WebhookRefusal.checkSignature(
                scheme, secret: secret, options: options, headers: request.headers.firstValues, body: context.body)
        } catch {
            logger.info(
                "signature rejected", metadata: ["request_id": "\(context.requestID)", "reason": "\(error.message)"])
            throw WebhookError(error, requestID: context.requestID)
        }
        return try await next(request, context)
    }
}
