import LuaKit
import SystemKit
import WebhookSignatures

extension RuleEngine {
    /// `crypto.hmac_sha256`, `hmac_sha1`, `sha256`, `base64_encode/decode` and `equals` (constant time).
    func installCryptoModule() {
        state.defineModule(
            "crypto",
            functions: [
                (
                    "hmac_sha256",
                    { state in
                        state.push(
                            WebhookCrypto.hmacSHA256Hex(
                                key: try Self.bytes(state, 1, "crypto.hmac_sha256"),
                                message: try Self.bytes(state, 2, "crypto.hmac_sha256")))
                        return 1
                    }
                ),
                (
                    "hmac_sha1",
                    { state in
                        state.push(
                            WebhookCrypto.hmacSHA1Hex(
                                key: try Self.bytes(state, 1, "crypto.hmac_sha1"),
                                message: try Self.bytes(state, 2, "crypto.hmac_sha1")))
                        return 1
                    }
                ),
                (
                    "sha256",
                    { state in
                        state.push(WebhookCrypto.sha256Hex(try Self.bytes(state, 1, "crypto.sha256")))
                        return 1
                    }
                ),
                (
                    "base64_encode",
                    { state in
                        state.push(Base64.encode(try Self.bytes(state, 1, "crypto.base64_encode")))
                        return 1
                    }
                ),
                (
                    "base64_decode",
                    { state in
                        guard let text = state.string(at: 1) else {
                            throw LuaRaise("crypto.base64_decode: expected a string")
                        }
                        guard let bytes = Base64.decode(text) else { state.pushNil(); return 1 }
                        bytes.withUnsafeBytes { state.push(bytes: $0) }
                        return 1
                    }
                ),
                (
                    "equals",
                    { state in
                        let a = try Self.bytes(state, 1, "crypto.equals"), b = try Self.bytes(state, 2, "crypto.equals")
                        state.push(ConstantTime.equals(a, b))
                        return 1
                    }
                ),
            ])
    }

    static func bytes(_ state: LuaState, _ index: Int32, _ name: String) throws -> [UInt8] {
        guard let bytes = state.withStringBytes(at: index, { Array($0) }) else {
            throw LuaRaise("\(name): argument \(index) must be a string, got \(state.type(at: index).name)")
        }
        return bytes
    }
}
