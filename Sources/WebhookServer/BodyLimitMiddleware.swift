import Hummingbird

/// Reads the request body into the context, refusing one larger than `maxBodyBytes` with 413:
/// from `Content-Length` before reading, and by capping what a chunked body may send.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = WebhookRequestContext

    let maxBodyBytes: Int

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let tooLarge = WebhookError(
            .contentTooLarge, "the body is larger than \(maxBodyBytes) bytes", requestID: context.requestID)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            throw tooLarge
        }
        var context = context
        do {
            context.body = Array(try await request.body.collect(upTo: maxBodyBytes).readableBytesView)
        } catch {
            throw tooLarge
        }
        return try await next(request, context)
    }
}
