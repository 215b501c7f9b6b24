import JSONKit
import SystemKit

/// A fixture that cannot be used: unreadable, not JSON, or not in the fixture format. The
/// description is one sentence naming the file and the JSON path, such as
/// `fixtures/paid.json: $.webhook.headers.content-type must be a string; it is an integer`; the
/// command exits 2 without running anything.
struct FixtureError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The fixture file as shown to the user.
    let file: String
    /// Where in the file (`$.webhook.path`), or nil when the file as a whole is at fault.
    let location: String?
    /// What is wrong and what to do, without the file name.
    let message: String

    init(file: String, jsonPath: JSONPath?, _ message: String) {
        self.file = file
        location = jsonPath.map(Self.text(of:))
        self.message = message
    }

    /// An error at `path` below the value at `jsonPath`, with `path` written as `JSONPath` writes
    /// it (`user.tags[2]`, empty for the value itself), as an `EventValidationError` gives it.
    init(file: String, jsonPath: JSONPath, below path: String, _ message: String) {
        self.file = file
        location = Self.text(of: jsonPath) + (path.isEmpty || path.hasPrefix("[") ? path : "." + path)
        self.message = message
    }

    var description: String {
        "\(Diagnostics.escaped(file)): " + (location.map { Diagnostics.escaped($0) + " " } ?? "") + message
    }

    /// A path as fixture messages write it, from the document root `$`: `$`, `$.webhook.path`,
    /// `$.events[2]`, `$.webhook.headers["a b"]`.
    static func text(of path: JSONPath) -> String {
        let relative = path.description
        return relative.isEmpty || relative.hasPrefix("[") ? "$" + relative : "$." + relative
    }
}
