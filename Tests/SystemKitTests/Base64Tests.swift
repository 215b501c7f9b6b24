import SystemKit
import Testing

@Suite struct Base64Tests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test(
        "base64 encodes and decodes the RFC 4648 §10 vectors",
        arguments: [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
        ])
    func base64Vectors(_ plain: String, _ encoded: String) {
        #expect(Base64.encode(bytes(plain)) == encoded)
        #expect(Base64.decode(encoded) == bytes(plain))
        // Padding may be left out.
        #expect(Base64.decode(encoded.filter { $0 != "=" }) == bytes(plain))
    }

    @Test("base64 round-trips every byte value, including + and /")
    func base64RoundTrip() {
        let all = (0...255).map { UInt8($0) }
        for length in [0, 1, 2, 3, 31, 32, 33, 256] {
            let slice = Array(all.prefix(length))
            #expect(Base64.decode(Base64.encode(slice)) == slice)
        }
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
    }

    @Test(
        "text that is not base64 decodes to nil",
        arguments: ["Zm9v!", "Z", "Zg=", "=Zg=", "Zg==Zg==", "Zm9v Yg==", "Zm9v\n", "Zm9vYg===", "-_8=", "Zm9vY"])
    func base64Invalid(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
