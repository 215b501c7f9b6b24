import JSONKit
import RecordSources

/// `--settings file.json`: a JSON object that becomes `encharge.settings`.
public enum SettingsFile {
    public static func load(path: String) throws(RuleLoadError) -> JSONObject {
        let bytes: [UInt8]
        do { bytes = try readFile(path) } catch {
            throw RuleLoadError("cannot read the settings file (\(error.description.replacingOccurrences(of: "; check the input path", with: ""))); check the --settings path")
        }
        let value: JSONValue
        do { value = try JSONValue(parsing: bytes) } catch {
            throw RuleLoadError("settings file \(path): \(error.description)")
        }
        guard case .object(let object) = value else {
            throw RuleLoadError("settings file \(path) must hold a JSON object like {\"key\": \"value\"}, not \(value.kindDescription)")
        }
        return object
    }
}

/// Reads a whole file of modest size (settings, rules, fixtures).
package func readFile(_ path: String, limit: Int = 64 << 20) throws(InputError) -> [UInt8] {
    let file = try ChunkedFile(path: path)
    var bytes: [UInt8] = []
    while try file.read(into: &bytes, count: 1 << 16) > 0 {
        if bytes.count > limit { throw InputError("\(path) is larger than \(limit >> 20) MiB") }
    }
    return bytes
}
