import TestSupport
import Testing
import WebhookSignatures

/// `WebhookSigner` (what `encharge-lua test` signs fixtures with) produces the providers' published
/// signatures, the same headers as the tests' independent signer, and headers the verifier accepts.
@Suite struct WebhookSignerTests {
    /// The signer's headers as the verifier reads them: lower-case names, first value each.
    static func lowerCased(_ headers: [(name: String, value: String)]) -> [String: String] {
        Dictionary(headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    @Test(arguments: allVectors)
    func reproducesThePublishedAndOpenSSLVectors(vector: SignedFixture) throws {
        let timestamp = vector.headers["webhook-timestamp"].flatMap { Int($0) } ?? 1_700_000_000
        let signed = try WebhookSigner.headers(
            vector.scheme, body: Array(vector.body.utf8), secret: vector.secret, timestamp: timestamp,
            id: vector.headers["webhook-id"] ?? "unused", hmac: vector.options.hmac)
        let headers = Self.lowerCased(signed)
        // Every header the vector carries, byte for byte (hex compared without regard to case,
        // since one vector is written in upper case and the signer writes lower case).
        for (name, value) in vector.headers {
            #expect(headers[name]?.lowercased() == value.lowercased(), "\(name)")
        }
        #expect(headers.values.contains { $0.lowercased().contains(vector.signature.lowercased()) })
        try WebhookVerifier.verify(
            vector.scheme, headers: headers, body: Array(vector.body.utf8), secret: vector.secret,
            options: vector.options)
    }

    @Test(arguments: SigningScheme.allCases)
    func agreesWithTheTestsIndependentSignerAndTheVerifier(scheme: SigningScheme) throws {
        let body = Array(#"{"id":"evt_1","amount":4200,"note":"caf\u00e9"}"#.utf8)
        let secret = scheme.secret("seed-91c2")
        let now = 1_764_504_000
        let webhookScheme = try #require(WebhookScheme(rawValue: scheme.rawValue))
        let signed = try WebhookSigner.headers(
            webhookScheme, body: body, secret: secret, timestamp: now, id: "msg_fixture",
            hmac: HMACOptions(header: "X-Signature"))
        let independent = scheme.sign(body, secret: secret, timestamp: now, id: "msg_fixture")
        let ours = Self.lowerCased(signed)
        // The independent signer adds delivery ids for github and shopify, which sign nothing.
        for (name, value) in independent
        where !["x-github-delivery", "x-shopify-webhook-id"].contains(name.lowercased()) {
            #expect(ours[name.lowercased()] == value, "\(name)")
        }
        #expect(signed.count == (scheme == .standard ? 3 : 1))
        let options = WebhookVerificationOptions(now: Double(now))
        try WebhookVerifier.verify(webhookScheme, headers: ours, body: body, secret: secret, options: options)
        #expect(throws: WebhookVerificationError.self) {
            try WebhookVerifier.verify(
                webhookScheme, headers: ours, body: body, secret: secret + "x", options: options)
        }
    }

    @Test(arguments: [
        (
            HMACOptions(header: "X-Acme-Signature", algorithm: .sha1, encoding: .base64, prefix: "sha1="),
            "X-Acme-Signature"
        ),
        (HMACOptions(header: "x-hook-mac", prefix: "sha256="), "x-hook-mac"),
    ])
    func genericHMACFollowsItsOptions(options: HMACOptions, header: String) throws {
        let body = Array("a=1&b=2".utf8)
        let signed = try WebhookSigner.headers(
            .hmac, body: body, secret: "shared", timestamp: 0, id: "", hmac: options)
        #expect(signed.map(\.name) == [header])
        #expect(signed[0].value.hasPrefix(options.prefix))
        try WebhookVerifier.verify(
            .hmac, headers: Self.lowerCased(signed), body: body, secret: "shared",
            options: WebhookVerificationOptions(hmac: options))
    }

    @Test func refusesSecretsNobodyCouldVerify() {
        #expect(
            throws: WebhookVerificationError(
                .badSecret, "the github signing secret is empty (set it in the endpoint's settings)")
        ) {
            try WebhookSigner.headers(.github, body: [], secret: "", timestamp: 0, id: "")
        }
        #expect(
            throws: WebhookVerificationError(
                .badSecret, "the Standard Webhooks signing secret is not whsec_ followed by base64")
        ) {
            try WebhookSigner.headers(.standard, body: [], secret: "whsec_not base64!", timestamp: 0, id: "msg_1")
        }
    }
}
