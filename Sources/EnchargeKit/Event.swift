import JSONKit

/// One validated Encharge event, ready for the Ingest API (`POST /v1/`, one event per request).
///
/// Every way of making an `Event` validates it against the Ingest contract and normalizes `user`
/// to its wire form, so an `Event` in hand can be sent as is. The wire body is what an event
/// stores (written once, when it is made, and sent or printed as is); the members are read back
/// from it on demand. They stay settable for tests and tools: setting one rewrites the body, and
/// whoever changes them after validation answers for keeping them valid.
public struct Event: Sendable, Hashable {
    /// The wire body, see `wireJSON()`.
    package private(set) var wire: [UInt8]
    /// Where the per-person ordering key comes from, see `identityKey`.
    private var identity: Identity

    private enum Identity: Sendable {
        /// The key as text (an event built from Swift values).
        case text(String)
        /// The JSON string literal at this range of `wire`, quotes included: `user.userId`, or
        /// `user.email` (lower-cased for the key).
        case literal(Range<Int>, isEmail: Bool)
    }

    /// An event from parts that are already valid and normalized.
    init(checkedName name: String, user: JSONObject, properties: JSONObject?, sourceIp: String?) {
        var writer = JSONWriter(capacity: 256)
        writer.writeRaw("{\"name\":")
        writer.writeString(name)
        writer.writeRaw(",\"user\":")
        writer.write(.object(user))
        if let properties {
            writer.writeRaw(",\"properties\":")
            writer.write(.object(properties))
        }
        if let sourceIp {
            writer.writeRaw(",\"sourceIp\":")
            writer.writeString(sourceIp)
        }
        writer.bytes.append(UInt8(ascii: "}"))
        wire = writer.bytes
        identity = .text(Event.identityKey(of: user))
    }

    /// An event whose wire body a one-pass encoder wrote and validated, as `init(checkedName:...)`
    /// would have written it. `userId` and `email` are the ranges of those members' JSON string
    /// literals in `wire` (quotes included), when present.
    package init(checkedWire wire: [UInt8], userId: Range<Int>?, email: Range<Int>?) {
        self.wire = wire
        if let userId {
            identity = .literal(userId, isEmail: false)
        } else if let email {
            identity = .literal(email, isEmail: true)
        } else {
            identity = .text("")
        }
    }

    /// An event from wire bytes this program validated and wrote before (a spool's stored event),
    /// with its stored `identityKey`: nothing is parsed or validated again.
    package init(trustedWire wire: [UInt8], identityKey: String) {
        self.wire = wire
        identity = .text(identityKey)
    }

    /// The event name; `"identify"` only creates or updates the person.
    public var name: String {
        get { members.name }
        set { rewrite { $0.name = newValue } }
    }
    /// The person: `email` and/or `userId` (a string), `tags` as one `"a, b"` string, any other
    /// member a custom field (`null` clears it in Encharge).
    public var user: JSONObject {
        get { members.user }
        set { rewrite { $0.user = newValue } }
    }
    /// Event properties, nil when there are none.
    public var properties: JSONObject? {
        get { members.properties }
        set { rewrite { $0.properties = newValue } }
    }
    /// The IP address the event came from, if the sender knows it.
    public var sourceIp: String? {
        get { members.sourceIp }
        set { rewrite { $0.sourceIp = newValue } }
    }

    private struct Members {
        var name = ""
        var user = JSONObject()
        var properties: JSONObject?
        var sourceIp: String?
    }

    /// The members, read back from the wire body.
    private var members: Members {
        var members = Members()
        // The body is this type's own compact JSON, so it parses (to the values it was written from:
        // JSONWriter writes integers exactly and floats in their round-trip form).
        guard case .object(let object)? = try? JSONValue(parsing: wire) else { return members }
        members.name = object["name"]?.stringValue ?? ""
        members.user = object["user"]?.objectValue ?? JSONObject()
        members.properties = object["properties"]?.objectValue
        members.sourceIp = object["sourceIp"]?.stringValue
        return members
    }

    private mutating func rewrite(_ change: (inout Members) -> Void) {
        var members = self.members
        change(&members)
        self = Event(
            checkedName: members.name, user: members.user, properties: members.properties,
            sourceIp: members.sourceIp)
    }

    /// Equal wire bodies.
    public static func == (lhs: Event, rhs: Event) -> Bool { lhs.wire == rhs.wire }

    /// Hashes the wire body, consistent with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(wire) }
}

extension Event {
    /// Validates a whole event object `{name, user, properties?, sourceIp?}` (what
    /// `encharge.event{...}` and the mock Ingest API receive). Unknown top-level keys are
    /// rejected, with a suggestion when one looks like a typo.
    public init(validating json: JSONValue) throws(EventValidationError) {
        var ignored: [EventWarning] = []
        try self.init(validating: json, warnings: &ignored)
    }

    /// `init(validating:)` that appends what it normalized with a warning (a tag with a comma, a
    /// dropped address, a reserved key in the wrong case) to `warnings`.
    public init(validating json: JSONValue, warnings: inout [EventWarning]) throws(EventValidationError) {
        guard case .object(let object) = json else {
            throw EventValidationError(
                path: "", message: "an event must be an object with name and user, got \(json.kindDescription)")
        }
        var name: JSONValue?
        var user: JSONValue?
        var properties: JSONValue?
        var sourceIp: JSONValue?
        for member in object {
            switch member.key {
            case "name": name = member.value
            case "user": user = member.value
            case "properties": properties = member.value
            case "sourceIp": sourceIp = member.value
            default: throw EventValidator.unknownTopLevelKey(member.key)
            }
        }
        self.init(
            checkedName: try EventValidator.name(name),
            user: try EventValidator.user(user, warnings: &warnings),
            properties: try EventValidator.properties(properties),
            sourceIp: EventValidator.sourceIp(sourceIp, warnings: &warnings))
    }

    /// `encharge.identify(user)`: an event named `"identify"` that creates or updates the person.
    public static func identify(user: JSONValue) throws(EventValidationError) -> Event {
        var ignored: [EventWarning] = []
        return try identify(user: user, warnings: &ignored)
    }

    /// `identify(user:)` that appends its warnings to `warnings`.
    public static func identify(user: JSONValue, warnings: inout [EventWarning]) throws(EventValidationError) -> Event {
        Event(
            checkedName: "identify", user: try EventValidator.user(user, warnings: &warnings), properties: nil,
            sourceIp: nil)
    }

    /// `encharge.track(name, user, properties?, opts?)`, where `opts` may carry `sourceIp`.
    /// A nil or JSON null `properties` or `sourceIp` means none.
    public static func track(
        name: JSONValue, user: JSONValue, properties: JSONValue?, sourceIp: JSONValue?
    ) throws(EventValidationError) -> Event {
        var ignored: [EventWarning] = []
        return try track(name: name, user: user, properties: properties, sourceIp: sourceIp, warnings: &ignored)
    }

    /// `track(name:user:properties:sourceIp:)` that appends its warnings to `warnings`.
    public static func track(
        name: JSONValue, user: JSONValue, properties: JSONValue?, sourceIp: JSONValue?,
        warnings: inout [EventWarning]
    ) throws(EventValidationError) -> Event {
        Event(
            checkedName: try EventValidator.name(name),
            user: try EventValidator.user(user, warnings: &warnings),
            properties: try EventValidator.properties(properties),
            sourceIp: EventValidator.sourceIp(sourceIp, warnings: &warnings))
    }

    /// The per-person ordering key: `userId` if present, else the lower-cased `email`
    /// (so `Ann@X.io` and `ann@x.io` are one person); empty if `user` carries neither.
    public var identityKey: String {
        switch identity {
        case .text(let key):
            return key
        case .literal(let range, let isEmail):
            let contents = wire[(range.lowerBound + 1)..<(range.upperBound - 1)]
            let text =
                contents.contains(UInt8(ascii: "\\"))
                ? (try? JSONValue(parsing: wire[range]))?.stringValue ?? ""
                : String(decoding: contents, as: UTF8.self)
            return isEmail ? Event.lowercased(text) : text
        }
    }

    /// `identityKey` of an event whose user is `user`.
    static func identityKey(of user: JSONObject) -> String {
        switch user["userId"] {
        case .string(let id)?: return id
        case .integer(let id)?: return String(id)
        default: break
        }
        if case .string(let email)? = user["email"] { return Event.lowercased(email) }
        return ""
    }

    /// The wire body: compact JSON with top-level keys in the order name, user, properties,
    /// sourceIp (absent ones omitted) and nested keys sorted.
    public func wireJSON() -> [UInt8] { wire }

    /// Appends the wire body to `writer`, always compact (the wire form), whatever `writer.pretty` says.
    public func write(to writer: inout JSONWriter) {
        // The bytes read in place: appending the array itself would retain and release it.
        wire.withUnsafeBufferPointer { writer.bytes.append(contentsOf: $0) }
    }

    /// The event as a JSON object (keys sorted, as every `JSONObject`), for dead-letter entries
    /// and tests; `Event(validating:)` reads it back to an equal event.
    public var jsonValue: JSONValue {
        let members = self.members
        // Sorted by UTF-8 bytes: name < properties < sourceIp < user.
        var sorted: [(key: String, value: JSONValue)] = []
        sorted.reserveCapacity(4)
        sorted.append((key: "name", value: .string(members.name)))
        if let properties = members.properties { sorted.append((key: "properties", value: .object(properties))) }
        if let sourceIp = members.sourceIp { sorted.append((key: "sourceIp", value: .string(sourceIp))) }
        sorted.append((key: "user", value: .object(members.user)))
        return .object(JSONObject(sortedMembers: sorted))
    }

    /// Lower-cases ASCII letters without allocating when there are none to change; other
    /// scripts go through the standard library's full case mapping.
    static func lowercased(_ text: String) -> String {
        var needsWork = false
        for byte in text.utf8 where byte >= 0x80 || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) {
            if byte >= 0x80 { return text.lowercased() }
            needsWork = true
        }
        guard needsWork else { return text }
        let utf8 = text.utf8
        return String(unsafeUninitializedCapacity: utf8.count) { buffer in
            for (i, byte) in utf8.enumerated() {
                buffer[i] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
            }
            return utf8.count
        }
    }
}
