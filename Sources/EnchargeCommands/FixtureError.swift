import SystemKit

/// A fixture that cannot be used: unreadable, not JSON, or not in the fixture format. The
/// description is one sentence naming the file and the JSON path, such as
/// `fixtures/paid.json: $.webhook.headers.content-type must be a string; it is an integer`; the
/// command exits 2 without running anything.
package struct FixtureError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The fixture file as shown to the user.
    package let file: String
    /// Where in the file: a JSON path (`$.webhook.path`), or nil when the file as a whole is at fault.
    package let jsonPath: String?
    /// What is wrong and what to do, without the file name.
    package let message: String

    package init(file: String, jsonPath: String?, _ message: String) {
        self.file = file
        self.jsonPath = jsonPath
        self.message = message
    }

    package var description: String {
        "\(Diagnostics.escaped(file)): " + (jsonPath.map { Diagnostics.escaped($0) + " " } ?? "") + message
    }
}
