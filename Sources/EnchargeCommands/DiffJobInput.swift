import Foundation
import JSONKit
import RecordSources
import SystemKit

/// One sample `encharge-lua diff` runs both rules on, in the order given.
package enum DiffJobInput: Sendable {
    /// A records file (or stdin), read once; each record goes through both rules.
    case records(InputSpec)
    /// A fixture file, or a folder whose `*.json` files are fixtures (the `test` format): each
    /// runs through both rules as `test` runs it, webhooks answered as `serve` answers.
    case fixtures(String)

    /// Whether `--input PATH` names fixtures rather than records: a folder, or a `.json` file
    /// whose top level is an object holding a `record` or `webhook` member. Anything else (stdin,
    /// a file that cannot be read, a records array) is records, read and reported as `run` does.
    package static func namesFixtures(_ path: String) -> Bool {
        guard path != "-" else { return false }
        if Fixture.isDirectory(path) { return true }
        // A records array is told by its first byte, without reading the rest of a large sample.
        guard path.hasSuffix(".json"), let file = FileHandle(forReadingAtPath: path) else { return false }
        let start = (try? file.read(upToCount: 4096)) ?? Data()
        try? file.close()
        guard start.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{"),
            let text = try? FileReader.read(path), case .object(let root)? = try? JSONValue(parsing: text)
        else { return false }
        return root["record"] != nil || root["webhook"] != nil
    }
}
