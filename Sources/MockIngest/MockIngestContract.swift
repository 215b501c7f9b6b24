import JSONKit

/// What the Ingest API documentation states about an event, and nothing more: a JSON object
/// with a string `name` and a `user` object holding an `email` or a `userId`.
enum MockIngestContract {
    /// Why `json` breaks the documented contract, or nil when it keeps it.
    static func violation(in json: JSONValue) -> String? {
        guard case .object(let event) = json else {
            return "the body must be a JSON object, not \(json.kindDescription)"
        }
        guard case .string(let name)? = event["name"], !name.isEmpty else {
            return "name: a non-empty string is required"
        }
        guard case .object(let user)? = event["user"] else { return "user: an object is required" }
        if isPresent(user["email"]) || isPresent(user["userId"]) { return nil }
        return "user: email or userId is required"
    }

    private static func isPresent(_ value: JSONValue?) -> Bool {
        switch value {
        case .string(let text)?: return !text.isEmpty
        case .integer?, .double?: return true
        default: return false
        }
    }
}
