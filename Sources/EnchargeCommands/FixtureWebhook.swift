import EnchargeRules
import JSONKit
import WebhookSignatures

/// The HTTP request of a webhook fixture, as the rule will see it: method, path, lower-case
/// headers (a signature already added when the fixture has `sign`), query and the raw body.
struct FixtureWebhook: Sendable {
    /// The methods `serve` runs the rule for.
    static let methods = ["POST", "PUT", "PATCH", "DELETE", "GET"]

    var method: String
    var path: String
    /// Header names lower-case, in the fixture's order; a repeated name is sent twice.
    var headers: [(String, String)]
    var query: [(String, String)]
    /// The bytes sent: `body` as written, `json` written compact with sorted keys, or `form`
    /// percent-encoded.
    var body: [UInt8]
    /// How `sign` signed the request (its secret is never printed).
    var signature: FixtureSignature?

    /// The request `serve` would hand the rule, with `id` as its request id.
    func request(id: String) -> WebhookRequest {
        WebhookRequest(
            id: id, method: method, path: path, query: query, headers: headers, body: body, remoteIP: "127.0.0.1")
    }

    /// The first value of header `name` (lower case).
    func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }

    /// Adds the headers `WebhookSigner` makes for `sign`, replacing headers of the same names,
    /// signed at `timestamp`; the Standard Webhooks message id is the fixture's own `webhook-id`
    /// header, else `msg_fixture`.
    mutating func sign(_ sign: FixtureSignature, timestamp: Int) throws(WebhookVerificationError) {
        let signed = try WebhookSigner.headers(
            sign.scheme, body: body, secret: sign.secret, timestamp: timestamp,
            id: header("webhook-id") ?? "msg_fixture", hmac: HMACOptions(header: sign.header))
        let names = Set(signed.map { $0.name.lowercased() })
        headers.removeAll { names.contains($0.0) }
        headers += signed.map { ($0.name.lowercased(), $0.value) }
        signature = sign
    }

    /// Whether `name` is a header name (an HTTP token of letters, digits and `!#$%&'*+-.^_`|~`).
    static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"):
                    true
                default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
                }
            }
    }

    /// `application/x-www-form-urlencoded` text of `pairs`: unreserved bytes as they are, a space
    /// as `+`, every other byte percent-escaped.
    static func formBody(_ pairs: [(String, String)]) -> [UInt8] {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        func escape(_ text: String) -> [UInt8] {
            var out: [UInt8] = []
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                    UInt8(ascii: "~"):
                    out.append(byte)
                case UInt8(ascii: " "): out.append(UInt8(ascii: "+"))
                default: out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
                }
            }
            return out
        }
        var body: [UInt8] = []
        for (index, (key, value)) in pairs.enumerated() {
            if index > 0 { body.append(UInt8(ascii: "&")) }
            body += escape(key) + [UInt8(ascii: "=")] + escape(value)
        }
        return body
    }
}

/// The `sign` member of a webhook fixture: sign the request as `scheme` does with `secret`
/// (for `hmac`, into `header`). The secret is the fixture's own and is never printed.
struct FixtureSignature: Sendable {
    var scheme: WebhookScheme
    var secret: String
    /// The header of the generic `hmac` scheme (`x-signature` unless the fixture names one).
    var header: String
}
