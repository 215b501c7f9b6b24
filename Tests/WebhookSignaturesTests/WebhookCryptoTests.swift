import SystemKit
import Testing
import WebhookSignatures

@Suite struct WebhookCryptoTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("HMAC-SHA256 matches RFC 4231 test case 2")
    func hmacSHA256RFC4231() {
        let mac = WebhookCrypto.hmacSHA256Hex(
            key: Self.bytes("Jefe"), message: Self.bytes("what do ya want for nothing?"))
        #expect(mac == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(
            WebhookCrypto.hmacSHA256(key: Self.bytes("Jefe"), message: Self.bytes("what do ya want for nothing?"))
                == Hex.decode(mac))
    }

    @Test("HMAC-SHA1 matches RFC 2202 test case 2")
    func hmacSHA1RFC2202() {
        let mac = WebhookCrypto.hmacSHA1Hex(
            key: Self.bytes("Jefe"), message: Self.bytes("what do ya want for nothing?"))
        #expect(mac == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    }

    @Test(
        "SHA-256 matches FIPS 180-2 vectors",
        arguments: [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
        ])
    func sha256(_ input: String, _ expected: String) {
        #expect(WebhookCrypto.sha256Hex(Self.bytes(input)) == expected)
    }
}
