extension JSONValue {
    /// Parses JSON text (UTF-8 bytes).
    public init(parsing bytes: some Collection<UInt8>, maxDepth: Int = 512) throws(JSONParseError) {
        var parser = JSONParser(maxDepth: maxDepth)
        var builder = JSONValueBuilder()
        let array = Array(bytes)
        do {
            try array.withUnsafeBytes { try parser.parse($0, into: &builder) }
        } catch let error as JSONParseError {
            throw error
        } catch {
            throw JSONParseError(offset: 0, reason: "\(error)")
        }
        self = builder.result
    }

    /// Parses JSON text.
    public init(parsing text: String, maxDepth: Int = 512) throws(JSONParseError) {
        try self.init(parsing: Array(text.utf8), maxDepth: maxDepth)
    }
}
