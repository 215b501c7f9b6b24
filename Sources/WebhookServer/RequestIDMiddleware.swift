import HTTPTypes
import Hummingbird
import Synchronization

/// Gives each webhook request its id (in the context, for the log, the spool and error bodies)
/// and answers it in `X-Request-Id`, also on refusals: the outermost middleware, so every answer
/// of the webhook routes carries the id, and the errors the checks throw become their responses.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = WebhookRequestContext

    static let field = HTTPField.Name("X-Request-Id")!
    private static let counter = Atomic<Int>(0)

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.requestID = Self.makeRequestID()
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[Self.field] = context.requestID
        return response
    }

    /// `req_` and a random part and a counter in hex: unique within the process, unguessable across.
    static func makeRequestID() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        let random = UInt32.random(in: 0...UInt32.max)
        return "req_" + String(random, radix: 16) + String(n, radix: 16)
    }
}
