import EnchargeKit
import JSONKit
import LuaKit
import WebhookSignatures

/// One HTTP request as a rule sees it (`req` in `on_webhook(req)`).
public struct WebhookRequest: Sendable {
    public var id: String
    public var method: String
    public var path: String
    /// Query parameters in order; a repeated key becomes a list in Lua.
    public var query: [(String, String)]
    /// Header names lower-cased, in order; repeated headers are joined with ", " in Lua.
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var remoteIP: String?
    /// The dedup key the server found before the rule ran (a verified Stripe event id), kept with
    /// a failed request so `replay --spool` can tell whether the sender's retry was delivered since.
    public var dedupKey: String?

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
    public var headerDictionary: [String: String] {
        var result: [String: String] = [:]
        for (name, value) in headers where result[name] == nil { result[name] = value }
        return result
    }

    public var isJSON: Bool {
        guard let type = header("content-type")?.lowercased() else { return false }
        return type.hasPrefix("application/json") || (type.hasPrefix("application/") && type.contains("+json"))
    }

    public var isForm: Bool {
        header("content-type")?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true
    }

    /// The request as JSON, kept in the spool when the rule fails so `replay` can run it again.
    public var jsonValue: JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(id)), ("method", .string(method)), ("path", .string(path)),
            ("query", .array(query.map { .array([.string($0.0), .string($0.1)]) })),
            ("headers", .array(headers.map { .array([.string($0.0), .string($0.1)]) })),
            ("body_base64", .string(WebhookCrypto.base64Encode(body))),
        ]
        if let remoteIP { members.append(("remote_ip", .string(remoteIP))) }
        if let dedupKey { members.append(("dedup_key", .string(dedupKey))) }
        return .object(JSONObject(members))
    }

    /// Reads back `jsonValue`.
    public init?(json: JSONValue) {
        guard case .object(let o) = json, let id = o["id"]?.stringValue, let method = o["method"]?.stringValue,
            let path = o["path"]?.stringValue, let body = o["body_base64"]?.stringValue.flatMap(WebhookCrypto.base64Decode)
        else { return nil }
        func pairs(_ v: JSONValue?) -> [(String, String)] {
            guard case .array(let items)? = v else { return [] }
            return items.compactMap {
                guard case .array(let p) = $0, p.count == 2, let a = p[0].stringValue, let b = p[1].stringValue else { return nil }
                return (a, b)
            }
        }
        self.init(id: id, method: method, path: path, query: pairs(o["query"]), headers: pairs(o["headers"]), body: body, remoteIP: o["remote_ip"]?.stringValue,
            dedupKey: o["dedup_key"]?.stringValue)
    }
}

/// What running the rule on one request gave.
public enum WebhookOutcome: Sendable {
    /// The rule ran: its events (in emission order) and the response it asked for (nil: 202
    /// with `{"accepted": n}`).
    case handled(events: [Event], response: WebhookResponse?)
    /// `webhook.verify` failed: answer 401, nothing emitted.
    case unauthorized(String)
    /// No route matches `METHOD /path` in the rule's `routes` table.
    case notFound
    /// The rule raised (or emitted an invalid event): answer 500, keep the request for replay.
    case failed(message: String, traceback: String?)
    /// The rule ran out of its memory, instruction or time budget before emitting any event:
    /// answer 500 but keep nothing, so that requests nobody signed cannot fill the disk.
    case overBudget(message: String, traceback: String?)
}

/// A response a rule returned: a status, or `{ status =, headers =, body = }`.
public struct WebhookResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func == (a: WebhookResponse, b: WebhookResponse) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.elementsEqual(b.headers) { $0 == $1 }
    }
}

extension RuleEngine {
    /// Whether the rules can serve webhooks (`on_webhook` or a `routes` table).
    public var servesWebhooks: Bool { definesFunction("on_webhook") || definesTable("routes") }

    /// Runs the rule for one request: the function `routes["METHOD /path"]` when the rules define
    /// a `routes` table, else `on_webhook(req)`.
    public func handleWebhook(_ request: WebhookRequest) -> WebhookOutcome {
        state.top = 0
        dedupKey = nil
        let routeKey = "\(request.method) \(request.path)"
        if state.getGlobal("routes") == .table {
            let type = state.rawGetField(routeKey, in: -1)
            guard type == .function else {
                state.top = 0
                return .notFound
            }
            // Stack: routes, function → function.
            state.copy(from: -1, to: 1)
            state.top = 1
        } else {
            state.pop()
            guard state.getGlobal("on_webhook") == .function else {
                state.top = 0
                return .failed(message: "\(options.rulesPath): defines neither on_webhook(req) nor a routes table", traceback: nil)
            }
        }
        // A bad answer is reported at the line defining the function that gave it.
        let answerSite = "\(options.rulesPath):\(state.definitionLine(ofFunctionAt: 1) ?? 0)"
        pushRequest(request)
        currentSource = "request \(request.id)"
        defer { takeNewDuplicateJSONKeyWarnings(source: currentSource).forEach(Diagnostics.write) }
        pending.removeAll(keepingCapacity: true)
        skipReason = nil
        verificationFailure = nil
        do {
            try state.call(arguments: 1, results: 1)
        } catch {
            state.top = 0
            let emitted = !pending.isEmpty
            pending.removeAll(keepingCapacity: true)
            // 401 only when the failed verification is what ended the call: a rule that caught it
            // with pcall and then failed otherwise gets the 500 of that other error.
            if let verificationFailure, error.kind == .runtime,
                error.message.contains(Self.verificationMessage(verificationFailure))
            {
                return .unauthorized(verificationFailure)
            }
            if !emitted, [.memory, .instructions, .deadline].contains(error.kind) {
                return .overBudget(message: error.message, traceback: error.traceback)
            }
            return .failed(message: error.message, traceback: error.traceback)
        }
        let response: WebhookResponse?
        do {
            response = try readResponse(events: pending.count)
        } catch {
            state.top = 0
            pending.removeAll(keepingCapacity: true)
            return .failed(message: "\(answerSite): \(error.message)", traceback: nil)
        }
        state.top = 0
        if let status = response?.status, !(200...599).contains(status) {
            pending.removeAll(keepingCapacity: true)
            return .failed(message: "\(answerSite): the rule returned status \(status); return a status from 200 to 599 (or nothing for 202)", traceback: nil)
        }
        if let response, response.status == 204 || response.status == 304, !response.body.isEmpty {
            pending.removeAll(keepingCapacity: true)
            return .failed(message: "\(answerSite): the rule returned a body with status \(response.status), which has none; drop the body or return another status", traceback: nil)
        }
        // encharge.skip in a webhook rule: answer as asked, send nothing.
        if skipReason != nil { return .handled(events: [], response: response) }
        return .handled(events: pending, response: response)
    }

    private func pushRequest(_ request: WebhookRequest) {
        state.newTable(fieldCount: 10)
        state.push(request.id); state.rawSetField("id", in: -2)
        state.push(request.method); state.rawSetField("method", in: -2)
        state.push(request.path); state.rawSetField("path", in: -2)
        if let ip = request.remoteIP { state.push(ip); state.rawSetField("remote_ip", in: -2) }
        request.body.withUnsafeBytes { state.push(bytes: $0) }
        state.rawSetField("body", in: -2)
        state.push(json: .object(Self.multiMap(request.query, joinRepeated: false)))
        state.rawSetField("query", in: -2)
        state.push(json: .object(Self.multiMap(request.headers, joinRepeated: true)))
        state.rawSetField("headers", in: -2)
        // `req.json` is decoded on first use, under the memory cap, so a rule that checks the
        // signature first pays nothing for a body nobody signed.
        if request.isJSON, !request.body.isEmpty {
            pushLazyJSONMetatable()
            state.setMetatable(ofTableAt: -2)
        }
        // The server answered 400 to a form body that does not decode; none reaches here.
        if request.isForm, let pairs = try? parseForm(request.body) {
            state.push(json: .object(Self.multiMap(pairs, joinRepeated: false)))
            state.rawSetField("form", in: -2)
        }
    }

    /// Pushes the metatable of a request with a JSON body (made once per engine): its `__index`
    /// decodes `req.body` when the rule first reads `req.json`, and stores the result in `req`.
    private func pushLazyJSONMetatable() {
        if let ref = requestMetatableRef {
            state.pushReference(ref)
            return
        }
        state.newTable(fieldCount: 2)
        state.push(function: { state in
            guard state.string(at: 2) == "json", state.type(at: 1) == .table else {
                state.pushNil()
                return 1
            }
            guard state.rawGetField("body", in: 1) == .string else {
                state.pushNil()
                return 1
            }
            do {
                let decoded: Void? = try state.withStringBytes(at: -1) { bytes in
                    try state.pushJSON(parsing: bytes, underMemoryCap: true)
                }
                guard decoded != nil else { throw LuaRaise("req.json: the body is not a string") }
            } catch let error as JSONParseError {
                // Past the memory cap the reason says so (and the call is marked as over it).
                let memory = error.reason.hasPrefix("memory limit")
                throw LuaRaise("req.json: " + (memory ? error.reason : "the body cannot be decoded: \(error.description)"))
            }
            state.pushValue(at: -1)
            state.rawSetField("json", in: 1)
            return 1
        })
        state.rawSetField("__index", in: -2)
        state.push("request")
        state.rawSetField("__metatable", in: -2)
        state.pushValue(at: -1)
        requestMetatableRef = state.makeReference()
    }

    /// The text `webhook.verify` raises for a signature that does not check out.
    static func verificationMessage(_ failure: String) -> String { "webhook.verify: \(failure)" }

    /// Repeated keys: a list (query, form) or one ", "-joined string (headers).
    static func multiMap(_ pairs: [(String, String)], joinRepeated: Bool) -> JSONObject {
        var grouped: [String: [String]] = [:]
        var order: [String] = []
        for (k, v) in pairs {
            if grouped[k] == nil { order.append(k) }
            grouped[k, default: []].append(v)
        }
        return JSONObject(order.map { key in
            let values = grouped[key]!
            if values.count == 1 { return (key, JSONValue.string(values[0])) }
            return (key, joinRepeated ? .string(values.joined(separator: ", ")) : .array(values.map { .string($0) }))
        })
    }

    /// Why a rule's answer cannot be sent: it is not what the rule meant, so it is not coerced.
    struct BadAnswer: Error {
        var message: String
    }

    /// The status at the top of the stack: an integer (a float only when it is one exactly).
    private func answerStatus(_ what: String) throws(BadAnswer) -> Int {
        guard state.type(at: -1) == .number, let status = state.integer(at: -1), let value = Int(exactly: status) else {
            let shown = state.type(at: -1) == .number ? state.number(at: -1).map { "\($0)" } ?? "a number" : "a \(state.type(at: -1).name)"
            throw BadAnswer(message: "the rule returned \(what) \(shown); return an integer status from 200 to 599")
        }
        return value
    }

    private func readResponse(events: Int) throws(BadAnswer) -> WebhookResponse? {
        switch state.type(at: -1) {
        case .nil, .none:
            return nil
        case .number:
            return WebhookResponse(status: try answerStatus("status"))
        case .table:
            var response = WebhookResponse(status: 200)
            if state.rawGetField("status", in: -1) != .nil { response.status = try answerStatus("status =") }
            state.pop()
            if state.rawGetField("headers", in: -1) == .table, let headers = try? state.toJSON(at: -1), case .object(let o) = headers {
                response.headers = o.members.compactMap { m in m.value.stringValue.map { (m.key, $0) } }
            }
            state.pop()
            switch state.rawGetField("body", in: -1) {
            case .string: response.body = state.withStringBytes(at: -1) { Array($0) } ?? []
            case .table:
                if let value = try? state.toJSON(at: -1) {
                    var writer = JSONWriter()
                    writer.write(value)
                    response.body = writer.bytes
                    if !response.headers.contains(where: { $0.0.lowercased() == "content-type" }) {
                        response.headers.append(("content-type", "application/json"))
                    }
                }
            case .nil: break
            case let other:
                throw BadAnswer(message: "the rule returned body = a \(other.name); return a string or a table as the body")
            }
            state.pop()
            return response
        case let other:
            throw BadAnswer(
                message: "the rule returned a \(other.name); return a status number, a table {status =, headers =, body =} or nothing")
        }
    }

    /// `webhook.verify(scheme, req, secret, opts?)` and the `crypto` helpers.
    func installWebhookModules() {
        state.defineModule("webhook", functions: [
            ("verify", { [unowned self] state in try self.verify(state) }),
            ("dedup", { [unowned self] state in try self.dedup(state) }),
        ])
        state.defineModule("crypto", functions: [
            ("hmac_sha256", { state in
                state.push(WebhookCrypto.hmacSHA256Hex(key: try Self.bytes(state, 1, "crypto.hmac_sha256"), message: try Self.bytes(state, 2, "crypto.hmac_sha256")))
                return 1
            }),
            ("hmac_sha1", { state in
                state.push(WebhookCrypto.hmacSHA1Hex(key: try Self.bytes(state, 1, "crypto.hmac_sha1"), message: try Self.bytes(state, 2, "crypto.hmac_sha1")))
                return 1
            }),
            ("sha256", { state in
                state.push(WebhookCrypto.sha256Hex(try Self.bytes(state, 1, "crypto.sha256")))
                return 1
            }),
            ("base64_encode", { state in
                state.push(WebhookCrypto.base64Encode(try Self.bytes(state, 1, "crypto.base64_encode")))
                return 1
            }),
            ("base64_decode", { state in
                guard let text = state.string(at: 1) else { throw LuaRaise("crypto.base64_decode: expected a string") }
                guard let bytes = WebhookCrypto.base64Decode(text) else { state.pushNil(); return 1 }
                bytes.withUnsafeBytes { state.push(bytes: $0) }
                return 1
            }),
            ("equals", { state in
                let a = try Self.bytes(state, 1, "crypto.equals"), b = try Self.bytes(state, 2, "crypto.equals")
                state.push(WebhookVerifier.constantTimeEquals(a, b))
                return 1
            }),
        ])
    }

    static func bytes(_ state: LuaState, _ index: Int32, _ name: String) throws -> [UInt8] {
        guard let bytes = state.withStringBytes(at: index, { Array($0) }) else {
            throw LuaRaise("\(name): argument \(index) must be a string, got \(state.type(at: index).name)")
        }
        return bytes
    }

    private func verify(_ state: LuaState) throws -> Int32 {
        guard let schemeName = state.string(at: 1), let scheme = WebhookScheme(rawValue: schemeName) else {
            throw LuaRaise("webhook.verify: unknown scheme '\(state.string(at: 1) ?? state.type(at: 1).name)' (use stripe, github, shopify, standard or hmac)")
        }
        guard state.type(at: 2) == .table else { throw LuaRaise("webhook.verify: the second argument must be the request table") }
        guard let secret = state.string(at: 3), !secret.isEmpty else {
            throw LuaRaise("webhook.verify: the secret (third argument) is missing; pass it with --set or a settings file")
        }
        var options = WebhookVerificationOptions()
        if state.type(at: 4) == .table, let opts = try? state.toJSON(at: 4) {
            if case .integer(let t)? = opts["tolerance"] { options.tolerance = Double(t) }
            if case .double(let t)? = opts["tolerance"] { options.tolerance = t }
            if let header = opts["header"]?.stringValue { options.hmac.header = header.lowercased() }
            if let prefix = opts["prefix"]?.stringValue { options.hmac.prefix = prefix }
            if opts["algorithm"]?.stringValue == "sha1" { options.hmac.algorithm = .sha1 }
            if opts["encoding"]?.stringValue == "base64" { options.hmac.encoding = .base64 }
        }
        if ignoreSignatureTimestamps { options.tolerance = .infinity }
        var headers: [String: String] = [:]
        if state.rawGetField("headers", in: 2) == .table, case .object(let o)? = try? state.toJSON(at: -1) {
            for m in o.members { if let v = m.value.stringValue { headers[m.key.lowercased()] = v } }
        }
        state.pop()
        var body: [UInt8] = []
        if state.rawGetField("body", in: 2) == .string { body = state.withStringBytes(at: -1) { Array($0) } ?? [] }
        state.pop()
        do {
            try WebhookVerifier.verify(scheme, headers: headers, body: body, secret: secret, options: options)
        } catch {
            verificationFailure = error.description
            throw LuaRaise(Self.verificationMessage(error.description))
        }
        // A verified Stripe event is deduplicated on its id, unless the rule chose its own key.
        if scheme == .stripe, dedupKey == nil, let id = try? StripeEventID.find(in: body) { dedupKey = id }
        state.push(true)
        return 1
    }

    /// `webhook.dedup(key)`: the request's dedup key, replacing the delivery id of its headers. A
    /// key already stored within the dedup window makes the request a duplicate once the rule
    /// returns: it answers 200 and its events are dropped.
    private func dedup(_ state: LuaState) throws -> Int32 {
        let key: String
        if let text = state.string(at: 1) {
            key = text
        } else if let number = state.integer(at: 1) {
            key = String(number)
        } else {
            throw LuaRaise("webhook.dedup: the key must be a string or an integer, got \(state.type(at: 1).name)")
        }
        guard !key.isEmpty else { throw LuaRaise("webhook.dedup: the key is empty; pass the sender's event or delivery id") }
        guard key.utf8.count <= Self.maxDedupKeyBytes else {
            throw LuaRaise("webhook.dedup: the key is \(key.utf8.count) bytes; keep it under \(Self.maxDedupKeyBytes) (an event id, not the body)")
        }
        dedupKey = key
        return 0
    }

    /// Longest key `webhook.dedup` takes: ids, not documents, go into the dedup table.
    static let maxDedupKeyBytes = 512
}

/// Finds the event id (`evt_...`) of a Stripe event body: the string `id` member of the top-level
/// object, read in one pass that builds nothing (so the server validates and reads it at once).
public enum StripeEventID {
    /// The body's top-level `id` string; nil when there is none. Throws when the body is not JSON.
    public static func find(in body: [UInt8]) throws(JSONParseError) -> String? {
        var parser = JSONParser()
        var builder = Finder()
        do {
            try body.withUnsafeBytes { try parser.parse($0, into: &builder) }
        } catch let error as JSONParseError {
            throw error
        } catch {
            throw JSONParseError(offset: 0, reason: "\(error)")
        }
        return builder.id.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Tracks the depth and captures the string value of `id` at depth 1.
    struct Finder: JSONBuilder {
        var depth = 0
        var atID = false
        var id: String?

        mutating func beginObject() throws { depth += 1 }
        mutating func key(_ utf8: UnsafeRawBufferPointer) throws {
            if depth == 1 { atID = utf8.elementsEqual("id".utf8) }
        }
        mutating func endMember() throws { if depth == 1 { atID = false } }
        mutating func endObject() throws { depth -= 1 }
        mutating func beginArray() throws { depth += 1 }
        mutating func endElement() throws {}
        mutating func endArray() throws { depth -= 1 }
        mutating func null() throws {}
        mutating func bool(_ value: Bool) throws {}
        mutating func integer(_ value: Int64) throws {}
        mutating func double(_ value: Double) throws {}
        mutating func string(_ utf8: UnsafeRawBufferPointer) throws {
            if depth == 1 && atID { id = String(decoding: utf8, as: UTF8.self) }
        }
    }
}

/// A form body (`application/x-www-form-urlencoded`) that cannot be decoded without loss.
public struct FormDecodingError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// `a=1&b=x%20y` → pairs (`+` is a space). A `%` not followed by two hex digits, or escapes that
/// decode to bytes that are not UTF-8, are errors: guessing would hand the rule U+FFFD or a
/// control character the sender never meant.
public func parseForm(_ body: [UInt8]) throws(FormDecodingError) -> [(String, String)] {
    func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    /// Printable ASCII as is, anything else as `\xNN`, so the message cannot carry control bytes.
    func visible(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { (0x21...0x7E).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
    }
    func decode(_ part: ArraySlice<UInt8>) throws(FormDecodingError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(part.count)
        var i = part.startIndex
        while i < part.endIndex {
            let b = part[i]
            if b == UInt8(ascii: "+") {
                out.append(0x20)
            } else if b == UInt8(ascii: "%") {
                guard i + 2 < part.endIndex, let high = hexValue(part[i + 1]), let low = hexValue(part[i + 2]) else {
                    let shown = visible(part[i..<min(part.endIndex, i + 3)])
                    throw FormDecodingError(
                        description: "the form body has a bad percent-escape '\(shown)' at byte \(i); a % must be followed by two hex digits (write % itself as %25)")
                }
                out.append(high << 4 | low)
                i += 2
            } else {
                out.append(b)
            }
            i += 1
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw FormDecodingError(
                description: "the form field at byte \(part.startIndex) ('\(visible(part.prefix(48)))') decodes to bytes that are not UTF-8; percent-encode text as UTF-8")
        }
        return text
    }
    var pairs: [(String, String)] = []
    for pair in body.split(separator: UInt8(ascii: "&")) where !pair.isEmpty {
        if let eq = pair.firstIndex(of: UInt8(ascii: "=")) {
            pairs.append((try decode(pair[pair.startIndex..<eq]), try decode(pair[(eq + 1)...])))
        } else {
            pairs.append((try decode(pair), ""))
        }
    }
    return pairs
}
