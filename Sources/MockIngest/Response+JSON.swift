import HTTPTypes
import Hummingbird
import JSONKit
import NIOCore

extension Response {
    /// A JSON answer of the mock: `value` encoded, with `headers` and `Content-Type: application/json`.
    static func json(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(
            status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: value.encoded())))
    }
}
