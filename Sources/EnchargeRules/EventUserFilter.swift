import EnchargeKit
import JSONKit
import LuaKit

/// The `user` of an event in the one-pass encoding of `encharge.identify` and `encharge.track`:
/// writes each member in the wire form `EventValidator.user` gives it (an email trimmed, a numeric
/// `userId` as a string, `tags` joined with ", ", blank identities and null ids left out), and
/// refuses every member that check would reject or warn about (a bad email or id, a dropped
/// address, a tag with a comma, a reserved key in the wrong case), as well as a user with neither
/// email nor userId. A refused event goes the slow way (`toJSON`, then `Event.identify`/`track`),
/// whose words the user sees; so this filter only ever decides what `EventValidator.user` would
/// accept silently, and must write exactly its bytes (tests compare both paths).
struct EventUserFilter: LuaJSONMemberFilter {
    /// Where the `userId` string literal landed in the encoder's text, quotes included.
    private(set) var userId: Range<Int>?
    /// Where the `email` string literal landed.
    private(set) var email: Range<Int>?
    /// Scratch for joining tags, kept by the engine across events.
    var joinedTags: [UInt8]

    init(scratch: [UInt8]) {
        self.joinedTags = scratch
    }

    /// Whether the user carries an identity (else `EventValidator.user` throws).
    var hasIdentity: Bool { userId != nil || email != nil }

    mutating func encodeMember(
        key: UnsafeRawBufferPointer, value: LuaJSONMemberValue, encoder: inout LuaJSONEncoder
    ) throws(LuaJSONEncoderRefusal) {
        switch EventValidator.UserKey(key) {
        case .email:
            // Null and blank emails are left out.
            if value.isNull { return }
            try encoder.chargeValue()
            let address = EventValidator.trimmingWhitespace(try encoder.string(value))
            if address.isEmpty { return }
            guard EventValidator.looksLikeEmailAddress(address) else { throw LuaJSONEncoderRefusal() }
            encoder.writeMemberKey(key)
            email = writeLiteral(&encoder) { $0.writeString(utf8: address) }
        case .userId:
            if value.isNull { return }
            try encoder.chargeValue()
            switch value.type {
            case .string:
                let id = try encoder.string(value)
                if EventValidator.trimmingWhitespace(id).isEmpty { return }
                encoder.writeMemberKey(key)
                userId = writeLiteral(&encoder) { $0.writeString(utf8: id) }
            case .number:
                let digits: String
                if let id = value.integer {
                    encoder.writeMemberKey(key)
                    userId = writeLiteral(&encoder) { writer in
                        writer.bytes.append(UInt8(ascii: "\""))
                        writer.writeInteger(id)
                        writer.bytes.append(UInt8(ascii: "\""))
                    }
                    return
                }
                do { digits = try EventValidator.integralId(value.float ?? .nan) } catch {
                    throw LuaJSONEncoderRefusal()
                }
                encoder.writeMemberKey(key)
                userId = writeLiteral(&encoder) { $0.writeString(digits) }
            default:
                guard let digits = encoder.bigIntegerDigits(value) else { throw LuaJSONEncoderRefusal() }
                encoder.writeMemberKey(key)
                userId = writeLiteral(&encoder) { $0.writeString(digits) }
            }
        case .tags:
            if value.isNull {
                try encoder.writeMember(key: key, value: value)
                return
            }
            if value.type == .string {
                try encoder.chargeValue()
                let tags = EventValidator.trimmingWhitespace(try encoder.string(value))
                if tags.isEmpty { return }
                encoder.writeMemberKey(key)
                encoder.writer.writeString(utf8: tags)
                return
            }
            joinedTags.removeAll(keepingCapacity: true)
            try encoder.forEachString(inList: value) { (tag) throws(LuaJSONEncoderRefusal) in
                let trimmed = EventValidator.trimmingWhitespace(tag)
                if trimmed.isEmpty { return }
                // A comma inside a tag is kept with a warning: the slow path counts it.
                if trimmed.contains(UInt8(ascii: ",")) { throw LuaJSONEncoderRefusal() }
                if !joinedTags.isEmpty { joinedTags.append(contentsOf: [UInt8(ascii: ","), UInt8(ascii: " ")]) }
                joinedTags.append(contentsOf: trimmed)
            }
            if joinedTags.isEmpty { return }
            encoder.writeMemberKey(key)
            joinedTags.withUnsafeBytes { encoder.writer.writeString(utf8: $0) }
        case .ip:
            if value.isNull {
                try encoder.writeMember(key: key, value: value)
                return
            }
            try encoder.chargeValue()
            let address = try encoder.string(value)
            if EventValidator.isIPAddress(address) {
                encoder.writeMemberKey(key)
                encoder.writer.writeString(utf8: address)
                return
            }
            // A blank address is left out silently; any other is dropped with a warning.
            guard EventValidator.trimmingWhitespace(address).isEmpty else { throw LuaJSONEncoderRefusal() }
        case .custom:
            guard EventValidator.reservedSpelling(of: key) == nil else { throw LuaJSONEncoderRefusal() }
            try encoder.writeMember(key: key, value: value)
        }
    }

    /// Runs `write` on the encoder's text and answers the range it wrote.
    private func writeLiteral(_ encoder: inout LuaJSONEncoder, _ write: (inout JSONWriter) -> Void) -> Range<Int> {
        let start = encoder.writer.bytes.count
        write(&encoder.writer)
        return start..<encoder.writer.bytes.count
    }
}
