import EnchargeRules
import EnchargeSpool
import Foundation
import HTTPTypes
import HummingbirdTesting
import JSONKit
import TestSupport
import Testing
import WebhookSignatures

@testable import WebhookServer

/// Signatures: `--verify SCHEME` checks each request before the rule runs, and `webhook.verify`
/// inside a rule answers 401 for a bad one; neither shows a secret.
@Suite struct WebhookSignatureTests {
    /// A rule emitting one `Paid` event per request, with the body's `email` and `seq`.
    static let paidRule = WebhookMetricsTests.paidRule

    static func fields(_ pairs: [(String, String)]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return fields
    }

    @Test(arguments: SigningScheme.allCases)
    func signedRequestsAreCheckedBeforeTheRuleRuns(scheme: SigningScheme) async throws {
        let secret = scheme.secret("e2eSigningSecret\(scheme.rawValue)91ab")
        let wrongSecret = scheme.secret("someoneElsesSecret\(scheme.rawValue)")
        try await ScriptedIngestServer.with(configuration: WebhookTestServer.ingest) { ingest, endpoint in
            let server = try WebhookTestServer(rule: Self.paidRule, endpoint: endpoint) {
                $0.verifyScheme = .init(rawValue: scheme.rawValue)
                $0.verifySecret = secret
            }
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            let now = Int(Date().timeIntervalSince1970)
            let hasDeliveryID = [.github, .shopify, .standard].contains(scheme)
            let replies = try await server.test { client in
                // One person throughout, so per-person order makes the last event a barrier for the earlier ones.
                func body(_ seq: Int) -> [UInt8] { Array(#"{"email":"payer@example.com","seq":\#(seq)}"#.utf8) }
                func post(_ body: [UInt8], _ signature: [(String, String)]) async throws -> TestResponse {
                    try await client.send(
                        .post, "/hooks/\(scheme)",
                        headers: Self.fields([("Content-Type", "application/json")] + signature),
                        body: body)
                }

                let valid = try await post(body(1), scheme.sign(body(1), secret: secret, timestamp: now, id: "id-1"))
                #expect(valid.status == .accepted, "a correctly signed request is accepted: \(valid)")

                let wrong = try await post(
                    body(2), scheme.sign(body(2), secret: wrongSecret, timestamp: now, id: "id-2"))
                #expect(wrong.status == .unauthorized, "another secret's signature: \(wrong)")
                #expect(wrong.errorMessage.hasPrefix("signature verification failed: "))

                let tampered = try await post(
                    body(30), scheme.sign(body(3), secret: secret, timestamp: now, id: "id-3"))
                #expect(tampered.status == .unauthorized, "a body changed after signing: \(tampered)")

                let unsigned = try await post(body(4), [])
                #expect(unsigned.status == .unauthorized, "no signature at all: \(unsigned)")

                var answered = [valid, wrong, tampered, unsigned]
                if scheme.hasTimestamp {
                    let stale = try await post(
                        body(5), scheme.sign(body(5), secret: secret, timestamp: now - 3600, id: "id-5"))
                    #expect(
                        stale.status == .unauthorized,
                        "a correctly signed request from an hour ago is a replay: \(stale)")
                    let future = try await post(
                        body(5), scheme.sign(body(5), secret: secret, timestamp: now + 3600, id: "id-5f"))
                    #expect(
                        future.status == .unauthorized,
                        "a timestamp an hour ahead is outside the tolerance too: \(future)")
                    answered += [stale, future]
                }

                // The provider resending the first delivery (same id, same signature): a duplicate where
                // the scheme carries a delivery id; without one (stripe, hmac) the rule runs again.
                let resent = try await post(body(1), scheme.sign(body(1), secret: secret, timestamp: now, id: "id-1"))
                #expect(resent.status == (hasDeliveryID ? .ok : .accepted), "\(resent)")

                let second = try await post(body(6), scheme.sign(body(6), secret: secret, timestamp: now, id: "id-6"))
                #expect(second.status == .accepted, "\(second)")
                return answered + [resent, second]
            }
            // Spool order: once 6 arrived, anything accepted before it has too.
            await eventually("seq 6 was delivered") { ingest.accepted.compactMap(\.seq).contains(6) }
            #expect(
                ingest.accepted.compactMap(\.seq) == (hasDeliveryID ? [1, 6] : [1, 1, 6]),
                "only the correctly signed requests ran the rule")
            for secret in [secret, wrongSecret] {
                #expect(!server.log.text.contains(secret), "the server logged a secret")
                #expect(!replies.contains { $0.text.contains(secret) }, "a response shows a secret")
            }
        }
    }

    @Test func webhookVerifyInsideTheRuleAnswers401ForABadSignature() async throws {
        let secret = "lua-side-github-secret-55e1"
        try await ScriptedIngestServer.with(configuration: WebhookTestServer.ingest) { ingest, endpoint in
            let server = try WebhookTestServer(
                rule: """
                    function on_webhook(req)
                      webhook.verify("github", req, encharge.settings.secret)
                      encharge.track("Pushed", { email = req.json.email }, { seq = req.json.seq })
                    end
                    """, endpoint: endpoint
            ) { $0.rule.settings["secret"] = .string(secret) }
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            try await server.test { client in
                func body(_ seq: Int) -> [UInt8] { Array(#"{"email":"dev@example.com","seq":\#(seq)}"#.utf8) }
                func post(_ seq: Int, _ headers: [(String, String)]) async throws -> TestResponse {
                    try await client.send(
                        .post, "/github", headers: Self.fields([("Content-Type", "application/json")] + headers),
                        body: body(seq))
                }
                let good = try await post(
                    1, SigningScheme.github.sign(body(1), secret: secret, timestamp: 0, id: "gh-1"))
                #expect(good.status == .accepted, "\(good)")
                let wrong = try await post(
                    2, SigningScheme.github.sign(body(2), secret: "not-the-secret", timestamp: 0, id: "gh-2"))
                #expect(wrong.status == .unauthorized, "\(wrong)")
                #expect(!wrong.text.contains(secret))
                let tampered = try await post(
                    3, SigningScheme.github.sign(body(99), secret: secret, timestamp: 0, id: "gh-3"))
                #expect(tampered.status == .unauthorized, "\(tampered)")
                let missing = try await post(4, [])
                #expect(missing.status == .unauthorized, "\(missing)")
                let again = try await post(
                    5, SigningScheme.github.sign(body(5), secret: secret, timestamp: 0, id: "gh-5"))
                #expect(again.status == .accepted, "\(again)")
            }
            await eventually("seq 5 was delivered") { ingest.accepted.compactMap(\.seq).contains(5) }
            #expect(ingest.accepted.compactMap(\.seq) == [1, 5])
            // A refused signature is not a rule error: nothing is kept for replay.
            #expect(try await server.keptRequests().isEmpty)
            #expect(!server.log.text.contains(secret), "the server logged a secret")
        }
    }

    /// With `--verify hmac` there is no signed delivery id: a `webhook-id` header anyone can set
    /// must not drop a second, different, correctly signed event as a "duplicate".
    @Test(arguments: [SigningScheme.hmac, .github, .stripe])
    func unsignedDeliveryIDsDoNotDedupVerifiedRequests(_ scheme: SigningScheme) async throws {
        let secret = scheme.secret("dedup")
        try await ScriptedIngestServer.with(configuration: WebhookTestServer.ingest) { ingest, endpoint in
            let server = try WebhookTestServer(
                rule: """
                    function on_webhook(req)
                      encharge.track("Paid", { email = "ada@example.com" }, { seq = req.json.seq })
                    end
                    """, endpoint: endpoint
            ) {
                $0.verifyScheme = .init(rawValue: scheme.rawValue)
                $0.verifySecret = secret
            }
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            try await server.test { client in
                for seq in 1...2 {
                    // Distinct signed events (a Stripe event id of its own) sharing one unsigned webhook-id.
                    let body = Array(#"{"id":"evt_\#(seq)","seq":\#(seq)}"#.utf8)
                    var headers = scheme.sign(
                        body, secret: secret, timestamp: Int(Date().timeIntervalSince1970), id: "msg_\(seq)")
                    headers.removeAll { $0.0.lowercased() == "x-github-delivery" }
                    headers.append(("webhook-id", "reused"))
                    let reply = try await client.send(
                        .post, "/", headers: Self.fields([("Content-Type", "application/json")] + headers), body: body)
                    #expect(reply.status == .accepted, "\(scheme) request \(seq): \(reply)")
                }
            }
            await eventually("\(scheme): \(ingest.accepted.compactMap(\.json).count) events arrived") {
                ingest.accepted.compactMap(\.json).count >= 2
            }
        }
    }

    @Test func anUnsignedHugeBodyIsAnswered401AndNothingIsKept() async throws {
        let secret = "lazy-json-secret-81f2"
        try await ScriptedIngestServer.with(configuration: WebhookTestServer.ingest) { ingest, endpoint in
            let server = try WebhookTestServer(
                rule: """
                    function on_webhook(req)
                      webhook.verify("github", req, encharge.settings.secret)
                      encharge.track("Pushed", { email = req.json.email }, { seq = req.json.seq })
                    end
                    """, endpoint: endpoint
            ) {
                $0.rule.settings["secret"] = .string(secret)
                $0.maxBodyBytes = 8 << 20
            }
            server.worker.start()
            defer { _ = server.worker.stop(timeout: 5) }
            try await server.test { client in
                // 4 MiB of empty objects: about 75 MB of Lua tables, over the 64 MiB cap, if decoded.
                var huge = Array("[".utf8)
                huge.reserveCapacity(4 << 20)
                while huge.count < 4 << 20 { huge.append(contentsOf: Array("{},".utf8)) }
                huge.append(contentsOf: Array("{}]".utf8))
                let unsigned = try await client.send(
                    .post, "/github", headers: [.contentType: "application/json"], body: huge)
                #expect(unsigned.status == .unauthorized, "\(unsigned)")
                // A signed body is decoded on first use as before.
                let body = Array(#"{"email":"dev@example.com","seq":1}"#.utf8)
                let signed = try await client.send(
                    .post, "/github",
                    headers: Self.fields(
                        [("Content-Type", "application/json")]
                            + SigningScheme.github.sign(body, secret: secret, timestamp: 0, id: "gh-1")),
                    body: body)
                #expect(signed.status == .accepted, "\(signed)")
            }
            await eventually("seq 1 was delivered") { ingest.accepted.compactMap(\.seq).contains(1) }
            #expect(!server.log.text.contains("memory limit"), "\(server.log.text)")
            #expect(try await server.keptRequests().isEmpty)
        }
    }

    @Test func aCaughtVerificationFollowedByAnotherErrorAnswers500() async throws {
        let server = try WebhookTestServer(
            rule: """
                function on_webhook(req)
                  local ok, err = pcall(webhook.verify, "github", req, encharge.settings.secret)
                  if req.json.rethrow and not ok then error(err) end
                  error("something else went wrong")
                end
                """
        ) { $0.rule.settings["secret"] = .string("stale-flag-secret-77") }
        try await server.test { client in
            let other = try await client.postJSON("/", #"{"email":"p@example.com"}"#)
            #expect(other.status == .internalServerError, "\(other)")
            // Raising the verification's own error still answers 401.
            let rethrown = try await client.postJSON("/", #"{"email":"p@example.com","rethrow":true}"#)
            #expect(rethrown.status == .unauthorized, "\(rethrown)")
        }
    }
}
