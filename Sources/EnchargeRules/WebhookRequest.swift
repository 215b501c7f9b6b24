import JSONKit
import SystemKit
import WebhookSignatures

/// One HTTP request as a rule sees it (`req` in `on_webhook(req)`).
public struct WebhookRequest: Sendable {
    /// The request's id (`req.id`), named in messages about it (`request ID`).
    public var id: String
    /// `POST`, upper-case as received.
    public var method: String
    /// The path without the query string, `/stripe`.
    public var path: String
    /// Query parameters in order; a repeated key becomes a list in Lua.
    public var query: [(String, String)]
    /// Header names lower-cased, in order; repeated headers are joined with ", " in Lua.
    public var headers: [(String, String)]
    /// The raw body, exactly as received (signatures are checked over it).
    public var body: [UInt8]
    /// The sender's address (`req.remote_ip`), when known.
    public var remoteIP: String?
    /// The dedup key the server found before the rule ran (a verified Stripe event id), kept with
    /// a failed request so `replay --spool` can tell whether the sender's retry was delivered since.
    public var dedupKey: String?

    /// A request as received; header names must already be lower-case.
    public init(
        id: String, method: String, path: String, query: [(String, String)], headers: [(String, String)],
        body: [UInt8], remoteIP: String?, dedupKey: String? = nil
    ) {
        self.id = id
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteIP = remoteIP
        self.dedupKey = dedupKey
    }

    /// The first value of a header (name lower-case).
    public func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }

    /// Headers as a dictionary of the first value per name, for signature checks.
    package var headerDictionary: [String: String] {
        var result: [String: String] = [:]
        for (name, value) in headers where result[name] == nil { result[name] = value }
        return result
    }

    package var isJSON: Bool {
        guard let type = header("content-type")?.lowercased() else { return false }
        return type.hasPrefix("application/json") || (type.hasPrefix("application/") && type.contains("+json"))
    }

    package var isForm: Bool {
        header("content-type")?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true
    }

    /// The request as JSON, kept in the spool when the rule fails so `replay` can run it again.
    package var jsonValue: JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(id)), ("method", .string(method)), ("path", .string(path)),
            ("query", .array(query.map { .array([.string($0.0), .string($0.1)]) })),
            ("headers", .array(headers.map { .array([.string($0.0), .string($0.1)]) })),
            ("body_base64", .string(Base64.encode(body))),
        ]
        if let remoteIP { members.append(("remote_ip", .string(remoteIP))) }
        if let dedupKey { members.append(("dedup_key", .string(dedupKey))) }
        return .object(JSONObject(members))
    }

    /// Reads back `jsonValue`.
    package init?(json: JSONValue) {
        guard case .object(let o) = json, let id = o["id"]?.stringValue, let method = o["method"]?.stringValue,
            let path = o["path"]?.stringValue, let body = o["body_base64"]?.stringValue.flatMap({ Base64.decode($0) })
        else { return nil }
        func pairs(_ v: JSONValue?) -> [(String, String)] {
            guard case .array(let items)? = v else { return [] }
            return items.compactMap {
                guard case .array(let p) = $0, p.count == 2, let a = p[0].stringValue, let b = p[1].stringValue else {
                    return nil
                }
                return (a, b)
            }
        }
        self.init(
            id: id, method: method, path: path, query: pairs(o["query"]), headers: pairs(o["headers"]), body: body,
            remoteIP: o["remote_ip"]?.stringValue,
            dedupKey: o["dedup_key"]?.stringValue)
    }
}
