import HTTPTypes

extension HTTPFields {
    /// The first value of each field by lower-case name, as the signature schemes read headers.
    var firstValues: [String: String] {
        var result: [String: String] = [:]
        for field in self where result[field.name.canonicalName] == nil {
            result[field.name.canonicalName] = field.value
        }
        return result
    }
}
