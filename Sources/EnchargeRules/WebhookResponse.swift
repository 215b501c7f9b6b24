/// A response a rule returned: a status, or `{ status =, headers =, body = }`.
public struct WebhookResponse: Sendable, Equatable {
    /// The HTTP status, 200 to 599.
    public var status: Int
    /// Response headers in order, as the rule gave them.
    public var headers: [(String, String)]
    /// The response body (a table the rule returned is encoded as JSON).
    public var body: [UInt8]

    /// A response with `status`, `headers` and `body`.
    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Same status, body and headers (in order).
    public static func == (a: WebhookResponse, b: WebhookResponse) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.elementsEqual(b.headers) { $0 == $1 }
    }
}
