import HTTPTypes
import Hummingbird
import JSONKit
import NIOCore

/// A request the server refuses, answered `{"error":{"message":...,"request_id":...}}` with its
/// status (and `Retry-After` where the sender should come back).
struct WebhookError: HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    let requestID: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, requestID: String, retryAfter: String? = nil) {
        self.status = status
        self.message = message
        self.requestID = requestID
        if let retryAfter { headers[.retryAfter] = retryAfter }
    }

    /// A refusal the server and `encharge-lua test` share, answered to this request.
    init(_ refusal: WebhookRefusal, requestID: String) {
        self.init(HTTPResponse.Status(code: refusal.status), refusal.message, requestID: requestID)
    }

    var description: String { "\(status.code) \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response
    }

    /// The answer to the sender.
    var response: Response {
        let answer = WebhookRefusal(status: status.code, message: message).body(requestID: requestID)
        var response = Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer)))
        for field in headers { response.headers.append(field) }
        return response
    }
}

extension Response {
    /// A JSON answer with `members` in their order.
    static func json(_ status: HTTPResponse.Status, _ members: [(String, JSONValue)]) -> Response {
        var writer = JSONWriter()
        writer.write(.object(JSONObject(members)))
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: writer.bytes)))
    }
}
