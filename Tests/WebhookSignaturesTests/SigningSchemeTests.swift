import Foundation
import TestSupport
import Testing
import WebhookSignatures

/// The tests' signer (TestSupport's `Signing` and `SigningScheme`, which the server suites sign
/// requests with) agrees with published vectors, with openssl and with the verifier.
@Suite struct SigningSchemeTests {
    static let openssl = "/usr/bin/openssl"

    @Test func signingMatchesPublishedVectors() {
        // From GitHub's "Validating webhook deliveries".
        let mac = Signing.hmacSHA256(
            key: Array("It's a Secret to Everybody".utf8), message: Array("Hello, World!".utf8))
        #expect(Signing.hex(mac) == "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        #expect(Signing.hex(Signing.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // RFC 2202 test case 2.
        let sha1 = Signing.hmacSHA1(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Signing.hex(sha1) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        #expect(Signing.base64(Array("foobar".utf8)) == "Zm9vYmFy")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: openssl), "needs \(openssl)"))
    func signingMatchesOpenSSLForALongKeyAndAMultiBlockMessage() throws {
        let key = String(repeating: "k", count: 100), message = String(repeating: "abc", count: 100)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.openssl)
        process.arguments = ["dgst", "-sha256", "-hmac", key]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(message.utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(
            text.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix(
                Signing.hex(Signing.hmacSHA256(key: Array(key.utf8), message: Array(message.utf8)))))
    }

    @Test(arguments: SigningScheme.allCases)
    func signedHeadersPassTheVerifierAndATamperedBodyDoesNot(scheme: SigningScheme) throws {
        let body = Array(#"{"id":"evt_1","amount":4200}"#.utf8)
        let secret = scheme.secret("seed-7d3f")
        let now = 1_700_000_000
        let signed = scheme.sign(body, secret: secret, timestamp: now, id: "delivery-1")
        let headers = Dictionary(signed.map { ($0.0.lowercased(), $0.1) }, uniquingKeysWith: { first, _ in first })
        let options = WebhookVerificationOptions(now: Double(now))
        try WebhookVerifier.verify(
            WebhookScheme(rawValue: scheme.rawValue)!, headers: headers, body: body, secret: secret, options: options)
        #expect(throws: WebhookVerificationError.self) {
            try WebhookVerifier.verify(
                WebhookScheme(rawValue: scheme.rawValue)!, headers: headers, body: body + [0x20], secret: secret,
                options: options)
        }
        if scheme.hasTimestamp {
            #expect(headers.values.contains { $0.contains("\(now)") })
        }
    }
}
