import JSONKit

/// Finds, in one JSON object, the members that are non-empty arrays holding only objects:
/// a list response (`{"object":"list","data":[…]}`) saved as one `.json` record.
struct TopLevelArrayFinder: JSONBuilder {
    private var depth = 0
    private var key = ""
    /// Per candidate array at depth 1: its key, its object count and whether all were objects.
    private var current: (key: String, objects: Int, onlyObjects: Bool)?
    private var found: [(key: String, objects: Int)] = []

    /// The pointer and size of the only member of `document` that is an array of objects.
    static func onlyArrayOfObjects(in document: UnsafeRawBufferPointer) -> (pointer: String, count: Int)? {
        var parser = JSONParser()
        var finder = TopLevelArrayFinder()
        guard (try? parser.parse(document, into: &finder)) != nil, finder.found.count == 1 else { return nil }
        return (JSONPointer(tokens: [finder.found[0].key]).description, finder.found[0].objects)
    }

    private mutating func value(isObject: Bool) {
        if depth == 2, current != nil {
            if isObject { current!.objects += 1 } else { current!.onlyObjects = false }
        }
    }

    mutating func beginObject() throws {
        value(isObject: true)
        depth += 1
    }
    mutating func key(_ utf8: UnsafeRawBufferPointer) throws {
        if depth == 1 { key = String(decoding: utf8, as: UTF8.self) }
    }
    mutating func endMember() throws {}
    mutating func endObject() throws { depth -= 1 }
    mutating func beginArray() throws {
        value(isObject: false)
        depth += 1
        if depth == 2 { current = (key, 0, true) }
    }
    mutating func endElement() throws {}
    mutating func endArray() throws {
        if depth == 2, let array = current {
            if array.onlyObjects && array.objects > 0 { found.append((array.key, array.objects)) }
            current = nil
        }
        depth -= 1
    }
    mutating func null() throws { value(isObject: false) }
    mutating func bool(_ value: Bool) throws { self.value(isObject: false) }
    mutating func integer(_ value: Int64) throws { self.value(isObject: false) }
    mutating func bigInteger(_ digits: UnsafeRawBufferPointer) throws { value(isObject: false) }
    mutating func double(_ value: Double) throws { self.value(isObject: false) }
    mutating func string(_ utf8: UnsafeRawBufferPointer) throws { value(isObject: false) }
}
