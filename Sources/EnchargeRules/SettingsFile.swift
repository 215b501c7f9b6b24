import Foundation
import JSONKit
import SystemKit

/// `--settings file.json`: a JSON object that becomes `encharge.settings`.
package enum SettingsFile {
    package static func load(path: String) throws(RuleLoadError) -> JSONObject {
        let bytes: [UInt8]
        do { bytes = try FileReader.read(path) } catch {
            throw RuleLoadError(
                "cannot read the settings file (\(error.description.replacingOccurrences(of: "; check the input path", with: ""))); check the --settings path"
            )
        }
        let value: JSONValue
        do { value = try JSONValue(parsing: bytes) } catch {
            throw RuleLoadError("settings file \(path): \(error.description)")
        }
        guard case .object(let object) = value else {
            throw RuleLoadError(
                "settings file \(path) must hold a JSON object like {\"key\": \"value\"}, not \(value.kindDescription)")
        }
        return object
    }
}
