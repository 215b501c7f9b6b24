import JSONKit

/// Finds the event id (`evt_...`) of a Stripe event body: the string `id` member of the top-level
/// object, read in one pass that builds nothing (so the server validates and reads it at once).
package enum StripeEventID {
    /// The body's top-level `id` string; nil when there is none. Throws when the body is not JSON.
    package static func find(in body: [UInt8]) throws(JSONParseError) -> String? {
        var parser = JSONParser()
        var builder = Finder()
        do {
            try body.withUnsafeBytes { try parser.parse($0, into: &builder) }
        } catch let error as JSONParseError {
            throw error
        } catch {
            throw JSONParseError(offset: 0, reason: "\(error)")
        }
        return builder.id.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Tracks the depth and captures the string value of `id` at depth 1.
    struct Finder: JSONBuilder {
        var depth = 0
        var atID = false
        var id: String?

        mutating func beginObject() throws { depth += 1 }
        mutating func key(_ utf8: UnsafeRawBufferPointer) throws {
            if depth == 1 { atID = utf8.elementsEqual("id".utf8) }
        }
        mutating func endMember() throws { if depth == 1 { atID = false } }
        mutating func endObject() throws { depth -= 1 }
        mutating func beginArray() throws { depth += 1 }
        mutating func endElement() throws {}
        mutating func endArray() throws { depth -= 1 }
        mutating func null() throws {}
        mutating func bool(_ value: Bool) throws {}
        mutating func integer(_ value: Int64) throws {}
        mutating func double(_ value: Double) throws {}
        mutating func string(_ utf8: UnsafeRawBufferPointer) throws {
            if depth == 1 && atID { id = String(decoding: utf8, as: UTF8.self) }
        }
    }
}
