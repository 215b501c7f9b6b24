import JSONKit
import LuaKit
import WebhookSignatures

extension RuleEngine {
    /// `webhook.verify(scheme, req, secret, opts?)` and `webhook.dedup(key)`.
    func installWebhookModule() {
        state.defineModule(
            "webhook",
            functions: [
                ("verify", { [unowned self] state in try self.verify(state) }),
                ("dedup", { [unowned self] state in try self.dedup(state) }),
            ])
    }

    private func verify(_ state: LuaState) throws -> Int32 {
        guard let schemeName = state.string(at: 1), let scheme = WebhookScheme(rawValue: schemeName) else {
            throw LuaRaise(
                "webhook.verify: unknown scheme '\(state.string(at: 1) ?? state.type(at: 1).name)' (use stripe, github, shopify, standard or hmac)"
            )
        }
        guard state.type(at: 2) == .table else {
            throw LuaRaise("webhook.verify: the second argument must be the request table")
        }
        guard let secret = state.string(at: 3), !secret.isEmpty else {
            throw LuaRaise(
                "webhook.verify: the secret (third argument) is missing; pass it with --set or a settings file")
        }
        var options = WebhookVerificationOptions(now: self.options.fixedNow.map(Double.init))
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
        guard !key.isEmpty else {
            throw LuaRaise("webhook.dedup: the key is empty; pass the sender's event or delivery id")
        }
        guard key.utf8.count <= Self.maxDedupKeyBytes else {
            throw LuaRaise(
                "webhook.dedup: the key is \(key.utf8.count) bytes; keep it under \(Self.maxDedupKeyBytes) (an event id, not the body)"
            )
        }
        dedupKey = key
        return 0
    }

    /// Longest key `webhook.dedup` takes: ids, not documents, go into the dedup table.
    static let maxDedupKeyBytes = 512
}
