import EnchargeKit
import JSONKit
import SystemKit
import WebhookSignatures

/// Reads the fixture format out of a parsed fixture file, member by member; every error names
/// the file and the JSON path of the member at fault and says what the member should hold.
struct FixtureReader {
    let file: String

    static let fixtureMembers = [
        "record", "webhook", "source", "settings", "now", "sign", "events", "skip", "error", "status", "response",
    ]
    static let webhookMembers = ["method", "path", "headers", "query", "body", "json", "form"]
    static let signMembers = ["scheme", "secret", "header"]

    func error(_ path: JSONPath, _ message: String) -> FixtureError {
        FixtureError(file: file, jsonPath: path, message)
    }

    func mistyped(_ value: JSONValue, at path: JSONPath, _ expected: String) -> FixtureError {
        error(path, "must be \(expected); it is \(value.kindDescription)")
    }

    func object(_ value: JSONValue, at path: JSONPath) throws(FixtureError) -> JSONObject {
        guard case .object(let object) = value else { throw mistyped(value, at: path, "an object") }
        return object
    }

    func string(_ value: JSONValue, at path: JSONPath) throws(FixtureError) -> String {
        guard case .string(let text) = value else { throw mistyped(value, at: path, "a string") }
        return text
    }

    /// A string, or a list of strings for a repeated name (query and form parameters).
    func strings(_ value: JSONValue, at path: JSONPath) throws(FixtureError) -> [String] {
        if case .array(let items) = value {
            var texts: [String] = []
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item else {
                    throw mistyped(item, at: path.element(index), "a string")
                }
                texts.append(text)
            }
            return texts
        }
        guard case .string(let text) = value else { throw mistyped(value, at: path, "a string or a list of strings") }
        return [text]
    }

    /// Refuses a member not in `allowed`, suggesting the nearest name.
    func checkMembers(
        _ object: JSONObject, at path: JSONPath, allowed: [String], of what: String, holding: String
    ) throws(FixtureError) {
        for key in object.keys where !allowed.contains(key) {
            // A near miss (`event`) or the name with an ending (`skipped`, `events_expected`).
            if let guess = allowed.first(where: {
                EditDistance.between($0, key, limit: 2, ignoringASCIICase: true) <= 2
                    || ($0.count >= 4 && key.lowercased().hasPrefix($0))
            }) {
                throw error(path.member(key), "is not a member of \(what) (did you mean \"\(guess)\"?)")
            }
            throw error(path.member(key), "is not a member of \(what); \(what) holds \(holding)")
        }
    }

    /// The parts of a fixture: input, record source, settings, clock and expectation; a `sign`
    /// member signs at the fixture's `now`, else at `signedAt`.
    func fixture(_ root: JSONObject, fileName: String, signedAt: Int) throws(FixtureError) -> (
        Fixture.Input, String, JSONObject?, Int64?, FixtureOutcome?
    ) {
        let top = JSONPath()
        try checkMembers(
            root, at: top, allowed: Self.fixtureMembers, of: "a fixture",
            holding:
                "an input (record or webhook), optionally source, settings, now and sign, and an expectation (events, skip or error; for a webhook also status and response)"
        )
        let now = try root["now"].map { value throws(FixtureError) in try clock(value, at: top.member("now")) }
        let input: Fixture.Input
        switch (root["record"], root["webhook"]) {
        case (nil, nil):
            throw error(
                top, "has no input; add \"record\": {...} for on_record or \"webhook\": {...} for on_webhook and routes"
            )
        case (.some, .some):
            throw error(top, "has both \"record\" and \"webhook\"; a fixture holds one input, so split it in two files")
        case (let record?, nil):
            input = .record(.object(try object(record, at: top.member("record"))))
            for key in ["sign", "status", "response"] where root[key] != nil {
                throw error(top.member(key), "applies only to webhook fixtures; remove it or give a \"webhook\" input")
            }
        case (nil, let webhook?):
            if root["source"] != nil {
                throw error(
                    top.member("source"), "applies only to record fixtures (a request is its own source); remove it")
            }
            var request = try self.webhook(webhook, at: top.member("webhook"))
            if let sign = root["sign"] {
                let signPath = top.member("sign")
                let signature = try signature(sign, at: signPath)
                // The rule's clock (and so webhook.verify's tolerance) is the fixture's `now`.
                do { try request.sign(signature, timestamp: now.map { Int($0) } ?? signedAt) } catch let failure {
                    // The message names the scheme's secret format and never holds the secret.
                    throw error(signPath.member("secret"), "cannot sign with it: \(failure.description)")
                }
            }
            input = .webhook(request)
        }
        let source = try root["source"].map { value throws(FixtureError) in try string(value, at: top.member("source"))
        }
        let settings = try root["settings"].map { value throws(FixtureError) in
            try object(value, at: top.member("settings"))
        }
        let isWebhook = if case .webhook = input { true } else { false }
        return (input, source ?? fileName, settings, now, try expectation(root, isWebhook: isWebhook))
    }

    /// `now`: an ISO 8601 date or whole seconds since 1970.
    func clock(_ value: JSONValue, at path: JSONPath) throws(FixtureError) -> Int64 {
        let hint = "an ISO 8601 date such as \"2026-11-30T12:00:00Z\" or whole seconds since 1970"
        switch value {
        case .integer(let seconds) where seconds >= 0:
            return seconds
        case .string(let text):
            guard let ms = EnchargeDate.epochMilliseconds(parsing: text) else {
                throw error(path, "\"\(Diagnostics.escaped(text))\" is not a date; give \(hint)")
            }
            return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000)
        default:
            throw mistyped(value, at: path, hint)
        }
    }

    func signature(_ value: JSONValue, at path: JSONPath) throws(FixtureError) -> FixtureSignature {
        let sign = try object(value, at: path)
        try checkMembers(
            sign, at: path, allowed: Self.signMembers, of: "sign", holding: "scheme, secret and (for hmac) header")
        guard let schemeValue = sign["scheme"] else {
            throw error(
                path, "has no scheme; give \"scheme\": \"stripe\", \"github\", \"shopify\", \"standard\" or \"hmac\"")
        }
        let schemeName = try string(schemeValue, at: path.member("scheme"))
        guard let scheme = WebhookScheme(rawValue: schemeName) else {
            throw error(path.member("scheme"), "must be stripe, github, shopify, standard or hmac")
        }
        guard let secretValue = sign["secret"] else {
            throw error(path, "has no secret; give the signing secret the rule (or --verify) checks against")
        }
        let secret = try string(secretValue, at: path.member("secret"))
        var header = "x-signature"
        if let headerValue = sign["header"] {
            guard scheme == .hmac else {
                throw error(
                    path.member("header"), "applies only to the hmac scheme; \(scheme.rawValue) names its own header")
            }
            header = try string(headerValue, at: path.member("header")).lowercased()
            guard FixtureWebhook.isHeaderName(header) else {
                throw error(path.member("header"), "is not a header name; use letters, digits and -")
            }
        }
        return FixtureSignature(scheme: scheme, secret: secret, header: header)
    }

    func webhook(_ value: JSONValue, at path: JSONPath) throws(FixtureError) -> FixtureWebhook {
        let webhook = try object(value, at: path)
        try checkMembers(
            webhook, at: path, allowed: Self.webhookMembers, of: "a webhook",
            holding: "method, path, headers, query and one of body, json or form")
        var method = "POST"
        if let value = webhook["method"] {
            method = try string(value, at: path.member("method"))
            guard FixtureWebhook.methods.contains(method) else {
                throw error(
                    path.member("method"),
                    "must be POST, PUT, PATCH, DELETE or GET (the methods serve runs the rule for)")
            }
        }
        guard let pathValue = webhook["path"] else {
            throw error(path, "has no path; give the request's path, such as \"path\": \"/stripe\"")
        }
        let requestPath = try string(pathValue, at: path.member("path"))
        guard requestPath.hasPrefix("/"), !requestPath.contains("?"), !requestPath.contains(" ") else {
            throw error(
                path.member("path"), "must start with / and hold no spaces or ? (give query parameters in \"query\")")
        }
        var headers: [(String, String)] = []
        if let value = webhook["headers"] {
            let headersPath = path.member("headers")
            for member in try object(value, at: headersPath) {
                let memberPath = headersPath.member(member.key)
                let text = try string(member.value, at: memberPath)
                guard FixtureWebhook.isHeaderName(member.key) else {
                    throw error(memberPath, "is not a header name; use letters, digits and -")
                }
                guard !text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else {
                    throw error(memberPath, "must not contain a line break")
                }
                headers.append((member.key.lowercased(), text))
            }
        }
        var query: [(String, String)] = []
        if let value = webhook["query"] {
            let queryPath = path.member("query")
            for member in try object(value, at: queryPath) {
                for text in try strings(member.value, at: queryPath.member(member.key)) {
                    query.append((member.key, text))
                }
            }
        }
        let bodies = ["body", "json", "form"].filter { webhook[$0] != nil }
        guard bodies.count <= 1 else {
            throw error(
                path, "has both \"\(bodies[0])\" and \"\(bodies[1])\"; a request has one body, so keep one of them")
        }
        var body: [UInt8] = []
        var contentType: String?
        if let value = webhook["body"] {
            body = Array(try string(value, at: path.member("body")).utf8)
        } else if let value = webhook["json"] {
            var writer = JSONWriter()
            writer.write(value)
            body = writer.bytes
            contentType = "application/json"
        } else if let value = webhook["form"] {
            let formPath = path.member("form")
            var pairs: [(String, String)] = []
            for member in try object(value, at: formPath) {
                for text in try strings(member.value, at: formPath.member(member.key)) {
                    pairs.append((member.key, text))
                }
            }
            body = FixtureWebhook.formBody(pairs)
            contentType = "application/x-www-form-urlencoded"
        }
        if let contentType, !headers.contains(where: { $0.0 == "content-type" }) {
            headers.append(("content-type", contentType))
        }
        return FixtureWebhook(method: method, path: requestPath, headers: headers, query: query, body: body)
    }

    /// The expectation members, or nil when the fixture has none yet.
    func expectation(_ root: JSONObject, isWebhook: Bool) throws(FixtureError) -> FixtureOutcome? {
        let top = JSONPath()
        let kinds = ["events", "skip", "error"].filter { root[$0] != nil }
        guard kinds.count <= 1 else {
            throw error(
                top, "has both \"\(kinds[0])\" and \"\(kinds[1])\"; a fixture expects one of events, skip or error")
        }
        guard let kind = kinds.first else {
            for key in ["status", "response"] where root[key] != nil {
                throw error(
                    top, "has \"\(key)\" but no \"events\", \"skip\" or \"error\"; add the outcome it expects")
            }
            return nil
        }
        let path = top.member(kind)
        let result: FixtureOutcome.Result
        switch kind {
        case "events":
            guard case .array(let events) = root[kind]! else {
                throw mistyped(root[kind]!, at: path, "a list of events")
            }
            for (index, event) in events.enumerated() {
                guard event.objectValue != nil else {
                    throw mistyped(event, at: path.element(index), "an object (an event as run --dry-run prints it)")
                }
                // An event `run` would refuse is one no rule can emit, so the fixture could never pass.
                do { _ = try Event(validating: event) } catch {
                    throw FixtureError(
                        file: file, jsonPath: path.element(index), below: error.path,
                        "cannot match any event the rule emits: \(Diagnostics.escaped(error.message)); write the event as run --dry-run prints it"
                    )
                }
            }
            result = .events(events)
        case "skip": result = .skip(try string(root[kind]!, at: path))
        default: result = .error(try string(root[kind]!, at: path))
        }
        var status: Int?
        if isWebhook {
            guard let value = root["status"] else {
                throw error(top, "has no \"status\"; a webhook fixture expects the status serve answers, such as 202")
            }
            guard case .integer(let code) = value else {
                throw mistyped(value, at: top.member("status"), "an HTTP status from 100 to 599")
            }
            guard (100...599).contains(code) else {
                throw error(top.member("status"), "must be an HTTP status from 100 to 599, not \(code)")
            }
            status = Int(code)
        }
        return FixtureOutcome(result, status: status, response: root["response"])
    }
}

extension JSONPath {
    /// The path of member `key` of the object here.
    fileprivate func member(_ key: String) -> JSONPath { appending(.key(key)) }

    /// The path of element `index` of the array here.
    fileprivate func element(_ index: Int) -> JSONPath { appending(.index(index)) }
}
