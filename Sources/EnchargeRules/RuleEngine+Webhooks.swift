import EnchargeKit
import JSONKit
import LuaKit
import SystemKit
import WebhookSignatures

extension RuleEngine {
    /// Whether the rules can serve webhooks (`on_webhook` or a `routes` table).
    public var servesWebhooks: Bool { definesFunction("on_webhook") || definesTable("routes") }

    /// `rules.lua defines neither on_webhook(req) nor a routes table`: how a command that answers
    /// webhooks says a rule without `servesWebhooks` cannot run (each adds what it would have
    /// called it for).
    package static func noWebhookEntryMessage(rulesPath: String) -> String {
        "\(rulesPath) defines neither on_webhook(req) nor a routes table"
    }

    /// Runs the rule for one request: the function `routes["METHOD /path"]` when the rules define
    /// a `routes` table, else `on_webhook(req)`. Signatures are the rule's to check
    /// (`webhook.verify`); the caller answers the sender as the `WebhookOutcome` says.
    public func handleWebhook(_ request: WebhookRequest) -> WebhookOutcome {
        handleWebhook(request, source: "request \(request.id)")
    }

    /// `handleWebhook(_:)` with `source` as what the request's log lines and warnings name, where
    /// the request id would not tell the reader which request it was (`test` names the fixture file).
    package func handleWebhook(_ request: WebhookRequest, source: String) -> WebhookOutcome {
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
                return failedRequest("\(options.rulesPath): defines neither on_webhook(req) nor a routes table")
            }
        }
        // A bad answer is reported at the line defining the function that gave it.
        let answerSite = "\(options.rulesPath):\(state.definitionLine(ofFunctionAt: 1) ?? 0)"
        pushRequest(request)
        currentSource = source
        defer {
            for warning in takeNewDuplicateJSONKeyWarnings(source: currentSource) {
                options.logWriter.write(Diagnostics.line(warning))
            }
        }
        pending.removeAll(keepingCapacity: true)
        skipReason = nil
        verificationFailure = nil
        do {
            try state.call(arguments: 1, results: 1)
        } catch {
            state.top = 0
            traceFailure(error.message, traceback: error.traceback, source: currentSource)
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
            return failedRequest("\(answerSite): \(error.message)")
        }
        state.top = 0
        if let status = response?.status, !(200...599).contains(status) {
            pending.removeAll(keepingCapacity: true)
            return failedRequest(
                "\(answerSite): the rule returned status \(status); return a status from 200 to 599 (or nothing for 202)"
            )
        }
        if let response, response.status == 204 || response.status == 304, !response.body.isEmpty {
            pending.removeAll(keepingCapacity: true)
            return failedRequest(
                "\(answerSite): the rule returned a body with status \(response.status), which has none; drop the body or return another status"
            )
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
                throw LuaRaise(
                    "req.json: " + (memory ? error.reason : "the body cannot be decoded: \(error.description)"))
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
        return JSONObject(
            order.map { key in
                let values = grouped[key]!
                if values.count == 1 { return (key, JSONValue.string(values[0])) }
                return (
                    key, joinRepeated ? .string(values.joined(separator: ", ")) : .array(values.map { .string($0) })
                )
            })
    }

    /// Why a rule's answer cannot be sent: it is not what the rule meant, so it is not coerced.
    struct BadAnswer: Error {
        var message: String
    }

    /// The status at the top of the stack: an integer (a float only when it is one exactly).
    private func answerStatus(_ what: String) throws(BadAnswer) -> Int {
        guard state.type(at: -1) == .number, let status = state.integer(at: -1), let value = Int(exactly: status) else {
            let shown =
                state.type(at: -1) == .number
                ? state.number(at: -1).map { "\($0)" } ?? "a number" : "a \(state.type(at: -1).name)"
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
            if state.rawGetField("headers", in: -1) == .table, let headers = try? state.toJSON(at: -1),
                case .object(let o) = headers
            {
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
                throw BadAnswer(
                    message: "the rule returned body = a \(other.name); return a string or a table as the body")
            }
            state.pop()
            return response
        case let other:
            throw BadAnswer(
                message:
                    "the rule returned a \(other.name); return a status number, a table {status =, headers =, body =} or nothing"
            )
        }
    }
}
