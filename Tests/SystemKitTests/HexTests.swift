import SystemKit
import Testing

@Suite struct HexTests {
    @Test("hex decodes either case and rejects anything else")
    func hex() {
        #expect(Hex.encode([0x00, 0x0F, 0xA0, 0xFF]) == "000fa0ff")
        #expect(Hex.decode("000fa0ff") == [0x00, 0x0F, 0xA0, 0xFF])
        #expect(Hex.decode("000FA0FF") == [0x00, 0x0F, 0xA0, 0xFF])
        #expect(Hex.decode("") == [])
        for invalid in ["0", "0g", "zz", "00 ", " 00", "0x00", "é0"] {
            #expect(Hex.decode(invalid) == nil, "\(invalid)")
        }
    }

    @Test("every byte survives encode then decode")
    func roundTrip() {
        let bytes = (0...255).map { UInt8($0) }
        let text = Hex.encode(bytes)
        #expect(text.utf8.count == 512)
        #expect(text.hasPrefix("000102") && text.hasSuffix("fdfeff"))
        #expect(Hex.decode(text) == bytes)
        #expect(Hex.decode(text.uppercased()) == bytes)
    }

    @Test("digit values cover 0-9, a-f and A-F only")
    func digitValues() {
        let digits = Array("0123456789abcdefABCDEF".utf8)
        #expect(digits.map { Hex.digitValue($0) } == (0...15).map { UInt8($0) } + (10...15).map { UInt8($0) })
        for byte in (0...255).map(UInt8.init) where !digits.contains(byte) {
            #expect(Hex.digitValue(byte) == nil, "\(byte)")
        }
    }
}
