import EnchargeKit
import EnchargeRules
import JSONKit
import WebhookSignatures

/// An answer `serve` gives instead of the rule's own: a body that is not what its content type
/// says (400), a signature that does not check out (401), no route (404), a rule that failed
/// (500). The sender gets `{"error": {"message": ..., "request_id": ...}}` with the status.
///
/// Plain values, so that `encharge-lua test` answers a webhook fixture with the very checks and
/// messages the server uses.
package struct WebhookRefusal: Error, Sendable, Equatable {
    /// The HTTP status.
    package var status: Int
    /// One sentence for the sender; never holds a secret.
    package var message: String

    package init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    /// The JSON body the sender gets.
    package func body(requestID: String) -> [UInt8] {
        var writer = JSONWriter()
        writer.write(
            .object(
                JSONObject([
                    ("error", .object(JSONObject([("message", .string(message)), ("request_id", .string(requestID))])))
                ])))
        return writer.bytes
    }

    /// Refuses, with 400, a body that is not what its content type says (JSON, a form, UTF-8
    /// text), before the rule sees it; returns the event id of a body `--verify stripe` checked,
    /// found in the same pass.
    package static func checkBody(
        of request: WebhookRequest, verifyScheme: WebhookScheme?
    ) throws(WebhookRefusal) -> String? {
        let body = request.body
        if request.isJSON {
            do {
                if verifyScheme == .stripe { return try StripeEventID.find(in: body) }
                try JSONParser.validate(body)
            } catch {
                throw WebhookRefusal(status: 400, message: "the body is not valid JSON: \(error.description)")
            }
        } else if !body.isEmpty,
            request.isForm || (request.header("content-type")?.lowercased().hasPrefix("text/") ?? false)
        {
            guard String(validating: body, as: UTF8.self) != nil else {
                throw WebhookRefusal(status: 400, message: "the body is not valid UTF-8")
            }
            if request.isForm {
                do { _ = try parseForm(body) } catch { throw WebhookRefusal(status: 400, message: error.description) }
            }
        }
        return nil
    }

    /// `--verify`: refuses, with 401 and the reason, a request whose signature does not check out
    /// under `scheme` with `secret`. Headers are lower-case names to first values.
    package static func checkSignature(
        _ scheme: WebhookScheme, secret: String, options: WebhookVerificationOptions, headers: [String: String],
        body: [UInt8]
    ) throws(WebhookRefusal) {
        do {
            try WebhookVerifier.verify(scheme, headers: headers, body: body, secret: secret, options: options)
        } catch {
            throw WebhookRefusal(status: 401, message: "signature verification failed: \(error.description)")
        }
    }

    /// The refusal as the response the sender gets.
    package func response(requestID: String) -> WebhookResponse {
        WebhookResponse(
            status: status, headers: [("content-type", "application/json")], body: body(requestID: requestID))
    }
}

extension WebhookOutcome {
    /// How `serve` answers the request once the rule ran: the rule's own response, or 202 with
    /// `{"accepted": n}` when it returned nothing; else its `refusal(route:)`.
    package func answer(route: String, requestID: String) -> WebhookResponse {
        if let refusal = refusal(route: route) { return refusal.response(requestID: requestID) }
        if case .handled(_, let response?) = self { return response }
        var writer = JSONWriter()
        writer.write(.object(JSONObject([("accepted", .integer(Int64(handledEvents.count)))])))
        return WebhookResponse(status: 202, headers: [("content-type", "application/json")], body: writer.bytes)
    }

    /// The refusal `serve` answers instead of a response of the rule's: 404 without a route for
    /// `route` (`POST /path`); 401 when `webhook.verify` failed (the reason is logged, not sent);
    /// 500 when the rule failed. Nil when the rule handled the request.
    package func refusal(route: String) -> WebhookRefusal? {
        switch self {
        case .handled: nil
        case .notFound: WebhookRefusal(status: 404, message: "no route for \(route)")
        case .unauthorized: WebhookRefusal(status: 401, message: "signature verification failed")
        case .overBudget: WebhookRefusal(status: 500, message: "the rule failed on a limit; the request was not kept")
        case .failed: WebhookRefusal(status: 500, message: "the rule failed; the request was kept for replay")
        }
    }

    /// The events of a handled request; none for the others.
    var handledEvents: [Event] {
        if case .handled(let events, _) = self { return events }
        return []
    }
}
