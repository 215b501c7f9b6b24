import EnchargeKit
import EnchargeRules
import JSONKit
import Testing
import WebhookServer
import WebhookSignatures

/// The checks and answers `serve` and `encharge-lua test` share, as plain values: the body check
/// (400), the signature check (401) and the answer to each outcome of the rule.
@Suite struct WebhookRefusalTests {
    static func request(_ body: String, contentType: String?) -> WebhookRequest {
        WebhookRequest(
            id: "req_1", method: "POST", path: "/hook", query: [],
            headers: contentType.map { [("content-type", $0)] } ?? [], body: Array(body.utf8), remoteIP: nil)
    }

    /// The refusal `check` throws, nil when it passes.
    static func refusal(_ check: () throws -> Void) -> WebhookRefusal? {
        do {
            try check()
            return nil
        } catch {
            return error as? WebhookRefusal
        }
    }

    @Test func theBodyCheckRefusesWhatTheContentTypeDoesNotDescribe() throws {
        let badJSON = Self.refusal {
            _ = try WebhookRefusal.checkBody(of: Self.request("{", contentType: "application/json"), verifyScheme: nil)
        }
        #expect(badJSON?.status == 400)
        #expect(badJSON?.message.hasPrefix("the body is not valid JSON: invalid JSON at byte 1") == true)
        let badForm = Self.refusal {
            _ = try WebhookRefusal.checkBody(
                of: Self.request("a=%zz", contentType: "application/x-www-form-urlencoded"), verifyScheme: nil)
        }
        #expect(badForm?.status == 400)
        #expect(badForm?.message.hasPrefix("the form body has a bad percent-escape '%zz'") == true)
        // Anything else is the rule's to read, and a Stripe body checked by --verify yields its id.
        #expect(
            Self.refusal {
                _ = try WebhookRefusal.checkBody(of: Self.request("{", contentType: "text/csv"), verifyScheme: nil)
            } == nil)
        let id = try WebhookRefusal.checkBody(
            of: Self.request(#"{"id": "evt_1", "type": "invoice.paid"}"#, contentType: "application/json"),
            verifyScheme: .stripe)
        #expect(id == "evt_1")
    }

    @Test func theSignatureCheckIs401WithTheReasonButNeverTheSecret() {
        let refusal = Self.refusal {
            try WebhookRefusal.checkSignature(
                .github, secret: "gh-secret", options: WebhookVerificationOptions(), headers: [:], body: [])
        }
        #expect(
            refusal
                == WebhookRefusal(
                    status: 401, message: "signature verification failed: the request has no X-Hub-Signature-256 header"
                ))
        #expect(
            String(decoding: refusal?.body(requestID: "req_1") ?? [], as: UTF8.self)
                == #"{"error":{"message":"signature verification failed: the request has no X-Hub-Signature-256 header","request_id":"req_1"}}"#
        )
    }

    @Test func eachOutcomeGetsServesAnswer() throws {
        let event = try Event.identify(user: ["email": "a@x.io"])
        func answer(_ outcome: WebhookOutcome) -> String {
            let response = outcome.answer(route: "POST /hook", requestID: "req_1")
            return "\(response.status) " + String(decoding: response.body, as: UTF8.self)
        }
        #expect(answer(.handled(events: [event, event], response: nil)) == #"202 {"accepted":2}"#)
        #expect(
            answer(.handled(events: [], response: WebhookResponse(status: 200, body: Array("ok".utf8)))) == "200 ok")
        #expect(answer(.notFound) == #"404 {"error":{"message":"no route for POST /hook","request_id":"req_1"}}"#)
        #expect(
            answer(.unauthorized("bad"))
                == #"401 {"error":{"message":"signature verification failed","request_id":"req_1"}}"#)
        #expect(
            answer(.failed(message: "rules.lua:3: boom", traceback: nil))
                == #"500 {"error":{"message":"the rule failed; the request was kept for replay","request_id":"req_1"}}"#
        )
        #expect(
            answer(.overBudget(message: "limit", traceback: nil))
                == #"500 {"error":{"message":"the rule failed on a limit; the request was not kept","request_id":"req_1"}}"#
        )
    }
}
