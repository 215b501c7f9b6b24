/// Removes the write key from text that could carry it back: libcurl's error messages and response
/// bodies (a server or proxy may echo request headers). A body cut at its first bytes may end with
/// only the start of the key, so a trailing prefix of it (4 bytes or more) is removed too.
struct SecretRedactor: Sendable {
    static let replacement = "[redacted]"
    let secret: String

    func redact(_ text: String) -> String {
        guard !secret.isEmpty, !text.isEmpty else { return text }
        var result = text.contains(secret) ? text.replacing(secret, with: Self.replacement) : text
        let key = Array(secret.utf8)
        let bytes = Array(result.utf8)
        var length = min(key.count - 1, bytes.count)
        while length >= 4 {
            if bytes[(bytes.count - length)...].elementsEqual(key[..<length]) {
                result = String(decoding: bytes[..<(bytes.count - length)], as: UTF8.self) + Self.replacement
                break
            }
            length -= 1
        }
        return result
    }
}
