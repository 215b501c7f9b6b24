import JSONKit
import SystemKit

/// The checks behind `Event`'s initializers, one function per event member, so that
/// `Event(validating:)`, `Event.identify(user:)` and `Event.track(...)` report the same errors.
///
/// The happy path allocates nothing beyond what the caller passed in: the user object is rebuilt
/// only when a member needs normalizing, and error paths are formatted only once a check fails.
package enum EventValidator {
    static let knownTopLevelKeys = ["name", "user", "properties", "sourceIp"]

    /// Top-level keys that people reach for from other tools, and where they belong here.
    static let topLevelAliases: [(key: String, suggestion: String)] = [
        ("email", "user.email"), ("userId", "user.userId"), ("tags", "user.tags"),
        ("event", "name"), ("traits", "user"),
    ]

    static func name(_ value: JSONValue?) throws(EventValidationError) -> String {
        switch value {
        case nil, .null?:
            throw EventValidationError(path: "", message: "event needs a name")
        case .string(let name)?:
            if isBlank(name) { throw EventValidationError(path: "name", message: "must not be empty") }
            return name
        case let other?:
            throw EventValidationError(path: "name", message: "expected a string, got \(other.kindDescription)")
        }
    }

    /// Checks the user object and returns it normalized: `tags` as one trimmed `"a, b"` string (or
    /// removed when there are none), `userId` as a string, `email` trimmed, a null or blank
    /// `email`/`userId` and a blank or unusable `ip` removed. What it fixes silently or with a
    /// warning (appended to `warnings`) is what the Ingest API accepts anyway.
    static func user(_ value: JSONValue?, warnings: inout [EventWarning]) throws(EventValidationError) -> JSONObject {
        let object: JSONObject
        switch value {
        case nil, .null?:
            throw EventValidationError(path: "", message: "event needs a user with email or userId")
        case .object(let o)?:
            object = o
        case let other?:
            throw EventValidationError(path: "user", message: "expected an object, got \(other.kindDescription)")
        }

        var hasIdentity = false
        var blankIdentity: String?
        // Replacements by member index (nil removes the member); empty, so unallocated, when the
        // object is already in wire form.
        var edits: [(index: Int, value: JSONValue?)] = []
        let members = object.members
        for index in members.indices {
            let member = members[index]
            switch UserKey(member.key) {
            case .email:
                switch member.value {
                case .null:
                    edits.append((index, nil))
                case .string(let email):
                    let trimmed = trimmingWhitespace(email)
                    if trimmed.isEmpty {
                        edits.append((index, nil))
                        blankIdentity = blankIdentity ?? "email"
                        continue
                    }
                    guard looksLikeEmailAddress(trimmed) else {
                        throw EventValidationError(
                            path: "user.email", message: "\(quoted(email)) does not look like an email address")
                    }
                    if trimmed.utf8.count != email.utf8.count { edits.append((index, .string(trimmed))) }
                    hasIdentity = true
                default:
                    throw EventValidationError(
                        path: "user.email", message: "expected a string, got \(member.value.kindDescription)")
                }
            case .userId:
                switch member.value {
                case .null:
                    edits.append((index, nil))
                case .string(let id):
                    if isBlank(id) {
                        edits.append((index, nil))
                        blankIdentity = blankIdentity ?? "userId"
                        continue
                    }
                    hasIdentity = true
                case .integer(let id):
                    edits.append((index, .string(String(id))))
                    hasIdentity = true
                case .bigInteger(let digits):
                    edits.append((index, .string(digits)))
                    hasIdentity = true
                case .double(let id):
                    edits.append((index, .string(try integralId(id))))
                    hasIdentity = true
                default:
                    throw EventValidationError(
                        path: "user.userId",
                        message: "expected a string or an integer, got \(member.value.kindDescription)")
                }
            case .tags:
                switch member.value {
                case .null:
                    break
                case .string(let tags):
                    let trimmed = trimmingWhitespace(tags)
                    if trimmed.isEmpty {
                        edits.append((index, nil))
                    } else if trimmed.utf8.count != tags.utf8.count {
                        edits.append((index, .string(trimmed)))
                    }
                case .array(let tags):
                    let joined = try joinedTags(tags, warnings: &warnings)
                    edits.append((index, joined.isEmpty ? nil : .string(joined)))
                case .object(let tags) where tags.isEmpty:
                    // An empty Lua table: no tags, as `[]` and `""` are.
                    edits.append((index, nil))
                default:
                    throw EventValidationError(
                        path: "user.tags",
                        message: "expected a string or an array of strings, got \(member.value.kindDescription)")
                }
            case .ip:
                if case .null = member.value { break }
                if case .string(let ip) = member.value, isIPAddress(ip) { break }
                edits.append((index, nil))
                if case .string(let ip) = member.value, isBlank(ip) { break }
                warnings.append(.droppedAddress(field: "user.ip", value: shownValue(member.value)))
            case .custom:
                if let expected = reservedSpelling(of: member.key) {
                    warnings.append(.reservedKeyCase(key: member.key, expected: expected))
                }
                try requireFiniteNumbers(member.value, root: "user", key: member.key)
            }
        }

        guard hasIdentity else { throw missingIdentity(in: object, blank: blankIdentity) }
        if edits.isEmpty { return object }

        var normalized: [(key: String, value: JSONValue)] = []
        normalized.reserveCapacity(members.count)
        var nextEdit = 0
        for index in members.indices {
            if nextEdit < edits.count, edits[nextEdit].index == index {
                if let value = edits[nextEdit].value { normalized.append((key: members[index].key, value: value)) }
                nextEdit += 1
            } else {
                normalized.append(members[index])
            }
        }
        return JSONObject(sortedMembers: normalized)
    }

    /// An id given as a float (Lua arithmetic makes `123.0`): its integer digits when it is
    /// integral and exact, else an error that says it is a float.
    package static func integralId(_ id: Double) throws(EventValidationError) -> String {
        // 2^63 is exactly representable; every integral double below it in magnitude fits Int64.
        if id.isFinite, id == id.rounded(.towardZero), abs(id) < 9_223_372_036_854_775_808.0 {
            return String(Int64(id))
        }
        let shown = id.isFinite ? "\(id)" : "a non-finite float"
        throw EventValidationError(
            path: "user.userId",
            message: "expected a string or an integer, got the float \(shown); pass a string or math.tointeger(x)")
    }

    static func properties(_ value: JSONValue?) throws(EventValidationError) -> JSONObject? {
        switch value {
        case nil, .null?:
            return nil
        case .object(let properties)?:
            for member in properties {
                try requireFiniteNumbers(member.value, root: "properties", key: member.key)
            }
            return properties
        case let other?:
            throw EventValidationError(path: "properties", message: "expected an object, got \(other.kindDescription)")
        }
    }

    /// `sourceIp` as sent: nil when absent, null, blank or not an address (the last with a warning).
    static func sourceIp(_ value: JSONValue?, warnings: inout [EventWarning]) -> String? {
        switch value {
        case nil, .null?:
            return nil
        case .string(let ip)? where isIPAddress(ip):
            return ip
        case .string(let ip)? where isBlank(ip):
            return nil
        case let other?:
            warnings.append(.droppedAddress(field: "sourceIp", value: shownValue(other)))
            return nil
        }
    }

    /// The error for a top-level key outside name, user, properties and sourceIp.
    static func unknownTopLevelKey(_ key: String) -> EventValidationError {
        let suggestion =
            topLevelAliases.first(where: { $0.key == key })?.suggestion
            ?? closestKey(to: key, among: knownTopLevelKeys)
        if let suggestion {
            return EventValidationError(
                path: "", message: "unknown key \(quoted(key)) (did you mean \(quoted(suggestion))?)")
        }
        return EventValidationError(
            path: "", message: "unknown key \(quoted(key)) (an event has name, user, properties and sourceIp)")
    }

    // MARK: - Pieces

    /// The user members with rules of their own; every other member is a custom field.
    package enum UserKey {
        case email, userId, tags, ip, custom

        /// Dispatches on the length first: a string comparison costs more than the rest of a
        /// custom field's check.
        @inline(__always)
        init(_ key: String) {
            var key = key
            self = key.withUTF8 { UserKey(UnsafeRawBufferPointer($0)) }
        }

        /// The kind of the member whose key is these UTF-8 bytes. Inlinable: the one-pass user
        /// filter (EnchargeRules) asks it for every member.
        @inlinable @inline(__always)
        package init(_ key: UnsafeRawBufferPointer) {
            // Compared as one little-endian word each, with no generic sequence code on the path.
            var word: UInt64 = 0
            switch key.count {
            case 2, 4, 5, 6: withUnsafeMutableBytes(of: &word) { $0.copyMemory(from: key) }
            default:
                self = .custom
                return
            }
            switch (key.count, word) {
            case (5, 0x6C_69_61_6D_65): self = .email  // "email"
            case (6, 0x64_49_72_65_73_75): self = .userId  // "userId"
            case (4, 0x73_67_61_74): self = .tags  // "tags"
            case (2, 0x70_69): self = .ip  // "ip"
            default: self = .custom
            }
        }
    }

    /// The right spelling of a member with a meaning (`email`, `userId`, `tags`, `ip`) when `key`
    /// is one of them in another case, else nil. Length first: most custom fields stop there.
    @inline(__always)
    private static func reservedSpelling(of key: String) -> String? {
        var key = key
        return key.withUTF8 { reservedSpelling(of: UnsafeRawBufferPointer($0)) }
    }

    /// `reservedSpelling(of:)` of a key given as UTF-8 bytes.
    @inline(__always)
    package static func reservedSpelling(of key: UnsafeRawBufferPointer) -> String? {
        let expected: String
        switch key.count {
        case 5: expected = "email"
        case 6: expected = "userId"
        case 4: expected = "tags"
        case 2: expected = "ip"
        default: return nil
        }
        // Equal ignoring ASCII case (the exact spelling never gets here); allocates nothing.
        return key.elementsEqual(expected.utf8, by: { ($0 | 0x20) == ($1 | 0x20) && $0 & 0xC0 == 0x40 })
            ? expected : nil
    }

    /// A value as a warning shows it: a string quoted, shortened and with control characters
    /// escaped (`\n`, `\u001b`, `\0`) so record data cannot forge output lines; anything else its kind.
    static func shownValue(_ value: JSONValue) -> String {
        guard case .string(let text) = value else { return value.kindDescription }
        let shown = quoted(text)
        guard shown.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return shown }
        var escaped = ""
        for scalar in shown.unicodeScalars {
            switch scalar.value {
            case 0x0A: escaped += "\\n"
            case 0x0D: escaped += "\\r"
            case 0x09: escaped += "\\t"
            case 0: escaped += "\\0"
            case 0..<0x20, 0x7F:
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    private static func missingIdentity(in user: JSONObject, blank: String?) -> EventValidationError {
        var base = "user needs email or userId"
        if let blank { base += " (\(blank) is blank)" }
        for member in user {
            if case .null = member.value { continue }
            let suggestion =
                member.key == "id" ? "userId" : closestKey(to: member.key, among: ["email", "userId"])
            if let suggestion {
                return EventValidationError(
                    path: "", message: "\(base) (did you mean \(quoted(suggestion)) instead of \(quoted(member.key))?)")
            }
        }
        return EventValidationError(path: "", message: base)
    }

    /// Joins tag strings with ", ", each trimmed, blank ones left out. A tag holding a comma is
    /// kept as written with a warning: Encharge splits the joined string at commas.
    private static func joinedTags(
        _ tags: [JSONValue], warnings: inout [EventWarning]
    ) throws(EventValidationError) -> String {
        var joined = ""
        for (i, tag) in tags.enumerated() {
            guard case .string(let raw) = tag else {
                throw EventValidationError(
                    path: "user.tags[\(i)]", message: "expected a string, got \(tag.kindDescription)")
            }
            let trimmed = trimmingWhitespace(raw)
            if trimmed.isEmpty { continue }
            if trimmed.utf8.contains(UInt8(ascii: ",")) { warnings.append(.tagWithComma) }
            if !joined.isEmpty { joined += ", " }
            joined += trimmed
        }
        return joined
    }

    /// Throws, with the path to it, if `value` holds a NaN or an infinity anywhere.
    @inline(__always)
    static func requireFiniteNumbers(_ value: JSONValue, root: String, key: String) throws(EventValidationError) {
        switch value {
        case .null, .bool, .integer, .string: return
        case .double(let d) where d.isFinite: return
        default: break
        }
        guard var failure = firstNonFinite(in: value) else { return }
        failure.reversedPath.append(.key(key))
        throw EventValidationError(
            path: JSONPath([.key(root)] + failure.reversedPath.reversed()).description,
            message: "expected a finite number, got \(failure.spelling)")
    }

    private struct NonFinite {
        var value: Double
        var reversedPath: [JSONPath.Component]
        var spelling: String { value.isNaN ? "NaN" : value < 0 ? "-infinity" : "infinity" }
    }

    private static func firstNonFinite(in value: JSONValue) -> NonFinite? {
        switch value {
        case .double(let d):
            return d.isFinite ? nil : NonFinite(value: d, reversedPath: [])
        case .array(let elements):
            for (i, element) in elements.enumerated() {
                if var failure = firstNonFinite(in: element) {
                    failure.reversedPath.append(.index(i))
                    return failure
                }
            }
            return nil
        case .object(let object):
            for member in object {
                if var failure = firstNonFinite(in: member.value) {
                    failure.reversedPath.append(.key(member.key))
                    return failure
                }
            }
            return nil
        case .null, .bool, .integer, .bigInteger, .string:
            return nil
        }
    }

    /// A value quoted for a message, shortened when long so one bad field cannot flood a log.
    static func quoted(_ text: String) -> String {
        let limit = 64
        if text.count <= limit { return "'\(text)'" }
        return "'\(text.prefix(limit - 1))…'"
    }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        ASCIIWhitespace.all.contains(byte)
    }

    static func isBlank(_ text: String) -> Bool {
        guard let first = text.utf8.first else { return true }
        return isWhitespace(first) && !text.utf8.contains { !isWhitespace($0) }
    }

    /// `text` without leading and trailing ASCII white space (space and 0x09-0x0D); the same string
    /// when there is none.
    static func trimmingWhitespace(_ text: String) -> String {
        guard let first = text.utf8.first, let last = text.utf8.last else { return text }
        if !isWhitespace(first) && !isWhitespace(last) { return text }
        return String(text.trimming(.all))
    }

    /// `trimmingWhitespace(_:)` of UTF-8 bytes: the bytes between the leading and trailing white
    /// space, empty when all of it is (then `isBlank` holds for the text).
    @inline(__always)
    package static func trimmingWhitespace(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, isWhitespace(bytes[start]) { start += 1 }
        while end > start, isWhitespace(bytes[end - 1]) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }
}
