import EnchargeSpool
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@testable import WebhookServer

/// The checks before the rule: the bearer token and the body limit answer before Lua runs.
@Suite struct WebhookMiddlewareTests {
    static let countingRule = """
        function on_webhook(req)
          encharge.track("Seen", { email = "a@example.com" }, { seq = req.json.seq })
        end
        """

    @Test func aMissingOrWrongBearerTokenIsAnswered401BeforeTheRuleRuns() async throws {
        let token = "bearer-token-c81d2a"
        let server = try WebhookTestServer(rule: Self.countingRule) { $0.authToken = token }
        try await server.test { client in
            func post(_ authorization: String?) async throws -> TestResponse {
                var headers: HTTPFields = [:]
                if let authorization { headers[.authorization] = authorization }
                return try await client.postJSON("/", #"{"seq":1}"#, headers: headers)
            }
            for authorization in [nil, "Bearer wrong-token", "Bearer " + token + "x", "Basic " + token, token] {
                let reply = try await post(authorization)
                #expect(reply.status == .unauthorized, "\(authorization ?? "none"): \(reply)")
                #expect(reply.errorMessage == "missing or wrong bearer token")
                #expect(reply.headers[TestResponse.requestID] != nil)
                #expect(!reply.text.contains(token))
            }
            #expect(try await post("Bearer " + token).status == .accepted)
            #expect(try await post("bearer " + token).status == .accepted, "the scheme is case-insensitive")
        }
        #expect(try await server.spool.stats().pending == 2, "only the authorised requests ran the rule")
    }

    @Test func theBodyLimitAnswers413BeforeTheRuleRuns() async throws {
        let server = try WebhookTestServer(rule: Self.countingRule) { $0.maxBodyBytes = 16 }
        try await server.test { client in
            let small = try await client.postJSON("/", #"{"seq":1}"#)
            #expect(small.status == .accepted, "\(small)")
            let large = try await client.postJSON("/", #"{"seq":2,"pad":"xxxxxxxx"}"#)
            #expect(large.status == .contentTooLarge, "\(large)")
            #expect(large.text.contains("the body is larger than 16 bytes"))
            #expect(large.headers[TestResponse.requestID] != nil)
        }
        #expect(try await server.spool.stats().pending == 1)
    }
}
