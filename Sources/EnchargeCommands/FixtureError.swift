import JSONKit
import SystemKit

/// A fixture that cannot be used: unreadable, not JSON, or not in the fixture format. The
/// description is one sentence naming the file and the JSON path, such as
/// `fixtures/paid.json: $.webhook.headers.content-type must be a string; it is an integer`; the
/// command exits 2 without running anything.
struct FixtureError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The fixture file as shown to the user.
    let file: String
    /// Where in the file, or nil when the file as a whole is at fault.
    let jsonPath: JSONPath?
    /// What is wrong and what to do, without the file name.
    let message: String

    init(file: String, jsonPath: JSONPath?, _ message: String) {
        self.file = file
        self.jsonPath = jsonPath
        self.message = message
    }

    var description: String {
        "\(Diagnostics.escaped(file)): " + (jsonPath.map { Diagnostics.escaped(Self.text(of: $0)) + " " } ?? "")
            + message
    }

    /// A path as fixture messages write it, from the document root `$`: `$`, `$.webhook.path`,
    /// `$.events[2]`, `$.webhook.headers["a b"]`.
    static func text(of path: JSONPath) -> String {
        let relative = path.description
        return relative.isEmpty || relative.hasPrefix("[") ? "$" + relative : "$." + relative
    }
}
