import JSONKit
import LuaKit

extension RuleEngine {
    /// `in.jsonl:3: warning: key "email" appears more than once in one JSON object; …`, once per
    /// key for the life of the engine, for keys that decoding (the record, `req.json`,
    /// `json.decode`) found repeated since the last call.
    package func takeNewDuplicateJSONKeyWarnings(source: String) -> [String] {
        guard state.jsonDuplicateKeys.hasNew else { return [] }
        return state.takeNewJSONDuplicateKeys().map { Self.duplicateJSONKeyWarning(key: $0, source: source) }
    }

    /// `in.jsonl:3: warning: key "email" appears more than once in one JSON object; …`.
    package static func duplicateJSONKeyWarning(key: String, source: String) -> String {
        "\(source): warning: key \(quotedKey(key)) appears more than once in one JSON object; the last value is used"
    }

    /// The keys decoding found repeated since the last call, which then starts afresh; nil when
    /// none were. For a job that maps on several engines and warns once per key for all of them.
    package func takeDuplicateJSONKeys() -> JSONDuplicateKeys? {
        state.jsonDuplicateKeys.isEmpty ? nil : state.takeJSONDuplicateKeys()
    }

    /// Every key decoding found repeated, with its count, and the repeats of keys not tracked one by one.
    package var duplicateJSONKeys: JSONDuplicateKeys { state.jsonDuplicateKeys }

    /// A key as a JSON string, so control characters in untrusted input cannot forge output.
    package static func quotedKey(_ key: String) -> String {
        var writer = JSONWriter()
        writer.write(.string(key))
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
