import Hummingbird
import SystemKit

/// Refuses a request without `Authorization: Bearer <token>` (the scheme in any letter case) with
/// 401, comparing the token in constant time.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = WebhookRequestContext

    let token: [UInt8]

    init(token: String) {
        self.token = Array(token.utf8)
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let presented = request.headers[fields: .authorization].first?.value ?? ""
        let scheme = presented.prefix(7).lowercased()
        let credential = Array(presented.utf8.dropFirst(7))
        guard scheme == "bearer ", ConstantTime.equals(credential, token) else {
            throw WebhookError(.unauthorized, "missing or wrong bearer token", requestID: context.requestID)
        }
        return try await next(request, context)
    }
}
