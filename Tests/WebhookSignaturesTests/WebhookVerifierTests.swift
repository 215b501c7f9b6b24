import Testing
import WebhookSignatures

/// One signed request, valid as given, from which the failure tables derive wrong secrets, tampered
/// bodies and the like.
struct SignedFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let scheme: WebhookScheme
    let headers: [String: String]
    let body: String
    let secret: String
    /// Another secret in the same format (for standard, still valid base64).
    let otherSecret: String
    var options = WebhookVerificationOptions()
    /// The signature the secret produces, in the header's encoding; must never appear in an error.
    let signature: String

    var testDescription: String { name }

    func verify(
        headers: [String: String]? = nil, body: String? = nil, secret: String? = nil,
        options: WebhookVerificationOptions? = nil
    ) throws(WebhookVerificationError) {
        try WebhookVerifier.verify(
            scheme, headers: headers ?? self.headers, body: Array((body ?? self.body).utf8),
            secret: secret ?? self.secret, options: options ?? self.options)
    }

    /// The error `verify` throws with these overrides, or `nil` when it accepts the request.
    func failure(
        headers: [String: String]? = nil, body: String? = nil, secret: String? = nil,
        options: WebhookVerificationOptions? = nil
    ) -> WebhookVerificationError? {
        do {
            try verify(headers: headers, body: body, secret: secret, options: options)
            return nil
        } catch {
            return error
        }
    }

    func replacing(_ header: String, with value: String?) -> [String: String] {
        var copy = headers
        copy[header] = value
        return copy
    }
}

// MARK: - Vectors

/// GitHub's published vector: "Testing the webhook payload validation" in
/// https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
let githubVector = SignedFixture(
    name: "github, GitHub's documented vector", scheme: .github,
    headers: ["x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"],
    body: "Hello, World!", secret: "It's a Secret to Everybody", otherSecret: "It's a Secret to Nobody",
    signature: "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")

/// The Standard Webhooks reference libraries' vector ("sign function works" in
/// libraries/javascript/src/webhook.test.ts and the other languages' tests of
/// github.com/standard-webhooks/standard-webhooks), with `now` pinned to its timestamp.
let standardVector = SignedFixture(
    name: "standard, the Standard Webhooks reference vector", scheme: .standard,
    headers: [
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ],
    body: #"{"test": 2432232314}"#, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    otherSecret: "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", options: .init(now: 1_614_265_330),
    signature: "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

/// Stripe publishes no vector. Computed independently with
/// `printf '1700000000.<body>' | openssl dgst -sha256 -hmac 'whsec_5f1b...e8f9'`.
let stripeVector = SignedFixture(
    name: "stripe, openssl-computed", scheme: .stripe,
    headers: [
        "stripe-signature": "t=1700000000,v1=07ea525f6754e664cf5f78f603e78f8fdca70039dadbdd27a15a450ced91b27c"
    ],
    body: #"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"customer.created"}"#,
    secret: "whsec_5f1b2c3d4e5f60718293a4b5c6d7e8f9", otherSecret: "whsec_0000000000000000000000000000000",
    options: .init(now: 1_700_000_000),
    signature: "07ea525f6754e664cf5f78f603e78f8fdca70039dadbdd27a15a450ced91b27c")

/// Shopify publishes no vector. Computed with
/// `printf '<body>' | openssl dgst -sha256 -hmac 'shpss_3f9a...8b3c' -binary | base64`.
let shopifyVector = SignedFixture(
    name: "shopify, openssl-computed", scheme: .shopify,
    headers: ["x-shopify-hmac-sha256": "d2JJmAgJS2vkwvZ8ExgSghKdm56in2aTJqWeNbQnbvY="],
    body: #"{"id":820982911946154508,"email":"jon@example.com"}"#,
    secret: "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", otherSecret: "shpss_00000000000000000000000000000000",
    signature: "d2JJmAgJS2vkwvZ8ExgSghKdm56in2aTJqWeNbQnbvY=")

/// Generic HMAC, computed with `printf '{"event":"ping"}' | openssl dgst -sha256|-sha1 -hmac
/// 'generic-shared-secret' [-binary | base64]`.
let hmacSHA256HexVector = SignedFixture(
    name: "hmac, SHA-256 hex", scheme: .hmac,
    headers: ["x-signature": "f27a0148623e2db306e6324d5e5e1a08faf7dba5c7039c7559d6dafaae7ba5ed"],
    body: #"{"event":"ping"}"#, secret: "generic-shared-secret", otherSecret: "generic-other-secret",
    signature: "f27a0148623e2db306e6324d5e5e1a08faf7dba5c7039c7559d6dafaae7ba5ed")

let hmacSHA256UpperHexPrefixedVector = SignedFixture(
    name: "hmac, SHA-256 upper-case hex after a prefix, custom header", scheme: .hmac,
    headers: ["x-acme-signature": "SHA256=F27A0148623E2DB306E6324D5E5E1A08FAF7DBA5C7039C7559D6DAFAAE7BA5ED"],
    body: #"{"event":"ping"}"#, secret: "generic-shared-secret", otherSecret: "generic-other-secret",
    options: .init(hmac: .init(header: "X-Acme-Signature", prefix: "sha256=")),
    signature: "f27a0148623e2db306e6324d5e5e1a08faf7dba5c7039c7559d6dafaae7ba5ed")

let hmacSHA1HexVector = SignedFixture(
    name: "hmac, SHA-1 hex after sha1=", scheme: .hmac,
    headers: ["x-signature": "sha1=08084705f838d1609ea543f2fe070e17204d3130"],
    body: #"{"event":"ping"}"#, secret: "generic-shared-secret", otherSecret: "generic-other-secret",
    options: .init(hmac: .init(algorithm: .sha1, prefix: "sha1=")),
    signature: "08084705f838d1609ea543f2fe070e17204d3130")

let hmacSHA256Base64Vector = SignedFixture(
    name: "hmac, SHA-256 base64", scheme: .hmac,
    headers: ["x-signature": "8noBSGI+LbMG5jJNXl4aCPr326XHA5x1Wdba+q57pe0="],
    body: #"{"event":"ping"}"#, secret: "generic-shared-secret", otherSecret: "generic-other-secret",
    options: .init(hmac: .init(encoding: .base64)),
    signature: "8noBSGI+LbMG5jJNXl4aCPr326XHA5x1Wdba+q57pe0=")

let allVectors = [
    githubVector, standardVector, stripeVector, shopifyVector, hmacSHA256HexVector,
    hmacSHA256UpperHexPrefixedVector, hmacSHA1HexVector, hmacSHA256Base64Vector,
]

/// A malformed header value and the kind of error it must produce.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    let fixture: SignedFixture
    let header: String
    let value: String
    var kind: WebhookVerificationError.Kind = .malformedHeader
    var testDescription: String { "\(fixture.scheme.rawValue) \(header): \(value)" }
}

let stripeHex = "07ea525f6754e664cf5f78f603e78f8fdca70039dadbdd27a15a450ced91b27c"
let wrongHex = String(repeating: "ab", count: 32)

let malformedCases: [MalformedCase] = [
    .init(fixture: stripeVector, header: "stripe-signature", value: "v1=\(stripeHex)"),
    .init(fixture: stripeVector, header: "stripe-signature", value: "t=soon,v1=\(stripeHex)"),
    .init(fixture: stripeVector, header: "stripe-signature", value: "t=-1700000000,v1=\(stripeHex)"),
    .init(fixture: stripeVector, header: "stripe-signature", value: "t=1700000000.5,v1=\(stripeHex)"),
    .init(fixture: stripeVector, header: "stripe-signature", value: "t=1.7e9,v1=\(stripeHex)"),
    .init(fixture: stripeVector, header: "stripe-signature", value: "t=99999999999999999999999,v1=\(stripeHex)"),
    .init(fixture: stripeVector, header: "stripe-signature", value: "t=1700000000"),
    .init(fixture: stripeVector, header: "stripe-signature", value: "t=1700000000,v0=\(stripeHex)"),
    .init(fixture: stripeVector, header: "stripe-signature", value: "t=1700000000,v1=not-hex"),
    .init(fixture: stripeVector, header: "stripe-signature", value: "t=1700000000,v1=07ea525f"),
    .init(fixture: stripeVector, header: "stripe-signature", value: "t=1700000000,v1="),
    .init(fixture: stripeVector, header: "stripe-signature", value: "complete garbage"),
    .init(
        fixture: githubVector, header: "x-hub-signature-256",
        value: "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
    .init(fixture: githubVector, header: "x-hub-signature-256", value: "sha1=757107ea0eb2509fc211221cce984b8a37570b6d"),
    .init(fixture: githubVector, header: "x-hub-signature-256", value: "sha256=xyz"),
    .init(fixture: githubVector, header: "x-hub-signature-256", value: "sha256="),
    .init(
        fixture: githubVector, header: "x-hub-signature-256",
        value: "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1"),
    .init(fixture: shopifyVector, header: "x-shopify-hmac-sha256", value: "not base64!"),
    .init(fixture: shopifyVector, header: "x-shopify-hmac-sha256", value: "YWJj"),
    .init(
        fixture: shopifyVector, header: "x-shopify-hmac-sha256",
        value: "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
    .init(fixture: standardVector, header: "webhook-timestamp", value: "hello"),
    .init(fixture: standardVector, header: "webhook-timestamp", value: "1614265330.0"),
    .init(fixture: standardVector, header: "webhook-timestamp", value: "+1614265330"),
    .init(fixture: standardVector, header: "webhook-signature", value: "v1,dawfeoifkpqwoekfpqoekf"),
    .init(fixture: standardVector, header: "webhook-signature", value: "v1,"),
    .init(fixture: standardVector, header: "webhook-signature", value: "v1,g0hM9SsE"),
    .init(
        fixture: standardVector, header: "webhook-signature", value: "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    .init(
        fixture: standardVector, header: "webhook-signature",
        value: "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="),
    .init(fixture: standardVector, header: "webhook-signature", value: "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    .init(
        fixture: hmacSHA256HexVector, header: "x-signature",
        value: "zz7a0148623e2db306e6324d5e5e1a08faf7dba5c7039c7559d6dafaae7ba5ed"),
    .init(fixture: hmacSHA256HexVector, header: "x-signature", value: "08084705f838d1609ea543f2fe070e17204d3130"),
    .init(fixture: hmacSHA256HexVector, header: "x-signature", value: "8noBSGI+LbMG5jJNXl4aCPr326XHA5x1Wdba+q57pe0="),
    .init(fixture: hmacSHA1HexVector, header: "x-signature", value: "08084705f838d1609ea543f2fe070e17204d3130"),
    .init(
        fixture: hmacSHA256Base64Vector, header: "x-signature", value: "8noBSGI+LbMG5jJNXl4aCPr326XHA5x1Wdba+q57pe0=!"),
    .init(
        fixture: hmacSHA256Base64Vector, header: "x-signature",
        value: "f27a0148623e2db306e6324d5e5e1a08faf7dba5c7039c7559d6dafaae7ba5ed"),
]

/// A fixture of a scheme with a signed timestamp, and that timestamp.
struct TimestampCase: Sendable, CustomTestStringConvertible {
    let fixture: SignedFixture
    let signedAt: Double
    var testDescription: String { fixture.scheme.rawValue }
}

let timestampCases = [
    TimestampCase(fixture: stripeVector, signedAt: 1_700_000_000),
    TimestampCase(fixture: standardVector, signedAt: 1_614_265_330),
]

// MARK: - Tests

@Suite struct WebhookVerifierTests {
    @Test("a correctly signed request verifies", arguments: allVectors)
    func validSignatureVerifies(_ fixture: SignedFixture) throws {
        try fixture.verify()
    }

    @Test("a request signed with another secret is a signature mismatch", arguments: allVectors)
    func wrongSecretIsRejected(_ fixture: SignedFixture) {
        #expect(fixture.failure(secret: fixture.otherSecret)?.kind == .signatureMismatch)
    }

    @Test("a body changed after signing is a signature mismatch", arguments: allVectors)
    func tamperedBodyIsRejected(_ fixture: SignedFixture) {
        #expect(fixture.failure(body: fixture.body + " ")?.kind == .signatureMismatch)
        #expect(fixture.failure(body: "")?.kind == .signatureMismatch)
        var flipped = Array(fixture.body.utf8)
        flipped[flipped.count / 2] ^= 0x01
        #expect(fixture.failure(body: String(decoding: flipped, as: UTF8.self))?.kind == .signatureMismatch)
    }

    @Test("an empty secret is refused before any comparison", arguments: allVectors)
    func emptySecretIsRefused(_ fixture: SignedFixture) {
        #expect(fixture.failure(secret: "")?.kind == .badSecret)
    }

    @Test("a request without the scheme's headers is a missing header", arguments: allVectors)
    func missingHeaderIsReported(_ fixture: SignedFixture) {
        #expect(fixture.failure(headers: [:])?.kind == .missingHeader)
        // Unrelated headers do not stand in for the scheme's.
        #expect(fixture.failure(headers: ["content-type": "application/json"])?.kind == .missingHeader)
    }

    @Test("a header that is present but empty or blank counts as missing", arguments: allVectors)
    func blankHeaderIsMissing(_ fixture: SignedFixture) {
        let blanked = fixture.headers.mapValues { _ in "  " }
        #expect(fixture.failure(headers: blanked)?.kind == .missingHeader)
    }

    @Test(
        "each Standard Webhooks header is required",
        arguments: ["webhook-id", "webhook-timestamp", "webhook-signature"])
    func standardRequiresEachHeader(_ header: String) throws {
        let error = try #require(standardVector.failure(headers: standardVector.replacing(header, with: nil)))
        #expect(error.kind == .missingHeader)
        #expect(error.message.contains(header))
    }

    @Test("GitHub's legacy SHA-1 header alone is reported as missing the SHA-256 one")
    func githubLegacyHeaderOnly() throws {
        let error = try #require(
            githubVector.failure(headers: ["x-hub-signature": "sha1=01234567890123456789012345678901234567ab"]))
        #expect(error.kind == .missingHeader)
        #expect(error.message.contains("X-Hub-Signature-256"))
        #expect(error.message.contains("legacy"))
    }

    @Test("a malformed header is reported as malformed, never as a crash", arguments: malformedCases)
    func malformedHeaderIsReported(_ testCase: MalformedCase) {
        let headers = testCase.fixture.replacing(testCase.header, with: testCase.value)
        #expect(testCase.fixture.failure(headers: headers)?.kind == testCase.kind)
    }

    @Test("header names in another case are still found")
    func headerLookupIgnoresCase() throws {
        try githubVector.verify(headers: [
            "X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        ])
        try standardVector.verify(headers: [
            "Webhook-Id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "WEBHOOK-TIMESTAMP": "1614265330",
            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ])
    }

    @Test("base64 padding may be left out")
    func base64PaddingIsOptional() throws {
        try shopifyVector.verify(headers: ["x-shopify-hmac-sha256": "d2JJmAgJS2vkwvZ8ExgSghKdm56in2aTJqWeNbQnbvY"])
    }

    @Test("surrounding spaces in a header value are ignored")
    func headerValueIsTrimmed() throws {
        try shopifyVector.verify(headers: ["x-shopify-hmac-sha256": " d2JJmAgJS2vkwvZ8ExgSghKdm56in2aTJqWeNbQnbvY=\t"])
        try stripeVector.verify(headers: ["stripe-signature": "t=1700000000, v1=\(stripeHex)"])
    }

    @Test("upper-case hex signatures match for Stripe and GitHub")
    func hexIsCaseInsensitive() throws {
        try stripeVector.verify(headers: ["stripe-signature": "t=1700000000,v1=\(stripeHex.uppercased())"])
        try githubVector.verify(headers: [
            "x-hub-signature-256": "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"
        ])
    }

    // MARK: Timestamps

    @Test("a correctly signed but stale or future timestamp is outside the tolerance", arguments: timestampCases)
    func staleTimestampIsRejected(_ testCase: TimestampCase) throws {
        let fixture = testCase.fixture
        for now in [testCase.signedAt + 301, testCase.signedAt - 301, testCase.signedAt + 86_400 * 365] {
            let error = try #require(fixture.failure(options: .init(now: now)))
            #expect(error.kind == .timestampOutsideTolerance)
        }
        let old = try #require(fixture.failure(options: .init(now: testCase.signedAt + 400)))
        #expect(old.message.contains("400 s old"))
        #expect(old.message.contains("300 s tolerance"))
        let future = try #require(fixture.failure(options: .init(now: testCase.signedAt - 400)))
        #expect(future.message.contains("in the future"))
    }

    @Test("the tolerance is inclusive and configurable", arguments: timestampCases)
    func toleranceBoundary(_ testCase: TimestampCase) throws {
        let fixture = testCase.fixture
        try fixture.verify(options: .init(now: testCase.signedAt + 300))
        try fixture.verify(options: .init(now: testCase.signedAt - 300))
        try fixture.verify(options: .init(tolerance: 3600, now: testCase.signedAt + 3600))
        #expect(
            fixture.failure(options: .init(tolerance: 10, now: testCase.signedAt + 11))?.kind
                == .timestampOutsideTolerance)
        #expect(
            fixture.failure(options: .init(tolerance: .nan, now: testCase.signedAt))?.kind
                == .timestampOutsideTolerance)
    }

    @Test("an infinite tolerance skips the timestamp check but not the signature", arguments: timestampCases)
    func infiniteToleranceSkipsTimestamp(_ testCase: TimestampCase) throws {
        let fixture = testCase.fixture
        try fixture.verify(options: .init(tolerance: .infinity, now: testCase.signedAt + 1e12))
        #expect(fixture.failure(body: "x", options: .init(tolerance: .infinity))?.kind == .signatureMismatch)
    }

    @Test("without a pinned now, a years-old signature is stale", arguments: timestampCases)
    func clockIsRead(_ testCase: TimestampCase) {
        #expect(testCase.fixture.failure(options: .init())?.kind == .timestampOutsideTolerance)
    }

    @Test("a forged signature with a stale timestamp reports the mismatch, not the timestamp")
    func signatureIsCheckedBeforeTimestamp() {
        let headers = stripeVector.replacing("stripe-signature", with: "t=1600000000,v1=\(stripeHex)")
        #expect(stripeVector.failure(headers: headers)?.kind == .signatureMismatch)
    }

    // MARK: Several signatures

    @Test("Stripe: any v1 may match; v0 and unknown elements are ignored")
    func stripeSeveralSignatures() throws {
        for value in [
            "t=1700000000,v1=\(wrongHex),v1=\(stripeHex)",
            "t=1700000000,v1=\(stripeHex),v1=\(wrongHex)",
            "t=1700000000,v1=not-hex,v1=\(stripeHex),v0=\(wrongHex)",
            "v0=\(wrongHex),v1=\(stripeHex),t=1700000000,x=whatever,junk",
        ] {
            try stripeVector.verify(headers: ["stripe-signature": value])
        }
        #expect(
            stripeVector.failure(headers: ["stripe-signature": "t=1700000000,v1=\(wrongHex),v1=\(wrongHex)"])?.kind
                == .signatureMismatch)
        // A v0 with the right value does not count: only v1 is a live-mode signature.
        #expect(
            stripeVector.failure(headers: ["stripe-signature": "t=1700000000,v1=\(wrongHex),v0=\(stripeHex)"])?.kind
                == .signatureMismatch)
    }

    @Test("Standard Webhooks: any listed v1 may match; other versions are skipped")
    func standardSeveralSignatures() throws {
        let valid = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        let other = "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
        for value in [
            // The reference libraries' "multi sig payload is valid" list.
            "v1,\(other) v2,\(other) \(valid) v1,\(other)",
            "\(valid) v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==",
            "v1,dawfeoifkpqwoekfpqoekf  \(valid)",
        ] {
            try standardVector.verify(headers: standardVector.replacing("webhook-signature", with: value))
        }
        let none = standardVector.replacing("webhook-signature", with: "v1,\(other) v1,\(other)")
        #expect(standardVector.failure(headers: none)?.kind == .signatureMismatch)
    }

    // MARK: Secrets

    @Test("Standard Webhooks: a secret without the whsec_ prefix is base64-decoded as it is")
    func standardSecretWithoutPrefix() throws {
        try standardVector.verify(secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    }

    @Test(
        "Standard Webhooks: a secret that is not base64 is a bad secret",
        arguments: ["whsec_not base64!", "whsec_", "whsec_A", "not-base64-at-all!"])
    func standardSecretNotBase64(_ secret: String) {
        #expect(standardVector.failure(secret: secret)?.kind == .badSecret)
    }

    @Test("Stripe: the whsec_ secret is the raw key, not base64-decoded")
    func stripeSecretIsRaw() {
        // Were it decoded like a Standard Webhooks secret, the key would differ and nothing match.
        #expect(stripeVector.failure(secret: "5f1b2c3d4e5f60718293a4b5c6d7e8f9")?.kind == .signatureMismatch)
    }

    // MARK: Error messages

    @Test("no error message contains the secret or the signature it produces", arguments: allVectors)
    func messagesKeepSecrets(_ fixture: SignedFixture) {
        var errors: [WebhookVerificationError] = []
        errors += [fixture.failure(body: "tampered")].compactMap { $0 }
        errors += [fixture.failure(secret: fixture.otherSecret)].compactMap { $0 }
        errors += [fixture.failure(headers: [:])].compactMap { $0 }
        errors += [fixture.failure(options: .init(tolerance: 0, now: 0, hmac: fixture.options.hmac))].compactMap { $0 }
        for (name, _) in fixture.headers {
            errors += [fixture.failure(headers: fixture.replacing(name, with: "garbage"))].compactMap { $0 }
        }
        #expect(errors.count >= 4)
        for error in errors {
            #expect(!error.message.contains(fixture.secret), "\(error.message)")
            #expect(!error.message.contains(fixture.otherSecret), "\(error.message)")
            #expect(!error.message.lowercased().contains(fixture.signature.lowercased()), "\(error.message)")
            #expect(!error.message.isEmpty)
            #expect(error.description == error.message)
        }
    }

    @Test("the mismatch message names the header and what to check")
    func mismatchMessage() throws {
        let error = try #require(stripeVector.failure(secret: stripeVector.otherSecret))
        #expect(
            error.message
                == "Stripe-Signature has no v1 signature matching the body (check the endpoint's signing secret)")
    }

    // MARK: Delivery ids

    struct DeliveryIDCase: Sendable, CustomTestStringConvertible {
        let scheme: WebhookScheme?
        let headers: [String: String]
        let expected: String?
        var testDescription: String { "\(scheme?.rawValue ?? "no scheme") → \(expected ?? "nil")" }
    }

    static let everyID = [
        "webhook-id": "msg_1", "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    ]

    @Test(
        "each scheme's delivery id comes from its own header",
        arguments: [
            DeliveryIDCase(scheme: .standard, headers: everyID, expected: "msg_1"),
            DeliveryIDCase(scheme: .github, headers: everyID, expected: "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            DeliveryIDCase(scheme: .shopify, headers: everyID, expected: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
            DeliveryIDCase(scheme: .stripe, headers: everyID, expected: nil),
            DeliveryIDCase(scheme: .hmac, headers: everyID, expected: nil),
            DeliveryIDCase(scheme: nil, headers: everyID, expected: "msg_1"),
            DeliveryIDCase(scheme: nil, headers: ["x-github-delivery": "gh-1"], expected: "gh-1"),
            DeliveryIDCase(scheme: nil, headers: ["x-shopify-webhook-id": "shop-1"], expected: "shop-1"),
            DeliveryIDCase(scheme: nil, headers: ["content-type": "application/json"], expected: nil),
            DeliveryIDCase(scheme: .standard, headers: [:], expected: nil),
            DeliveryIDCase(scheme: .standard, headers: ["webhook-id": ""], expected: nil),
            DeliveryIDCase(scheme: .github, headers: ["webhook-id": "msg_1"], expected: nil),
            DeliveryIDCase(scheme: .shopify, headers: ["X-Shopify-Webhook-Id": "shop-2"], expected: "shop-2"),
        ])
    func deliveryID(_ testCase: DeliveryIDCase) {
        #expect(WebhookVerifier.deliveryID(testCase.scheme, headers: testCase.headers) == testCase.expected)
    }
}
