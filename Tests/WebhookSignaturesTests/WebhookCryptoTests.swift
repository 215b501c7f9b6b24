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

    @Test(
        "base64 encodes and decodes the RFC 4648 §10 vectors",
        arguments: [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
        ])
    func base64Vectors(_ plain: String, _ encoded: String) {
        #expect(WebhookCrypto.base64Encode(Self.bytes(plain)) == encoded)
        #expect(WebhookCrypto.base64Decode(encoded) == Self.bytes(plain))
        // Padding may be left out.
        #expect(WebhookCrypto.base64Decode(encoded.filter { $0 != "=" }) == Self.bytes(plain))
    }

    @Test("base64 round-trips every byte value, including + and /")
    func base64RoundTrip() {
        let all = (0...255).map { UInt8($0) }
        for length in [0, 1, 2, 3, 31, 32, 33, 256] {
            let slice = Array(all.prefix(length))
            #expect(WebhookCrypto.base64Decode(WebhookCrypto.base64Encode(slice)) == slice)
        }
        #expect(WebhookCrypto.base64Encode([0xFB, 0xFF]) == "+/8=")
    }

    @Test(
        "text that is not base64 decodes to nil",
        arguments: ["Zm9v!", "Z", "Zg=", "=Zg=", "Zg==Zg==", "Zm9v Yg==", "Zm9v\n", "Zm9vYg===", "-_8=", "Zm9vY"])
    func base64Invalid(_ text: String) {
        #expect(WebhookCrypto.base64Decode(text) == nil)
    }
}
