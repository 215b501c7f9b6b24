import HTTPTypes
import Hummingbird
import JSONKit

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
        return Response.json(status, ["error": ["message": .string(message)]], headers: headers)
    }
}
