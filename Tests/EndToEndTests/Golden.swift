import Foundation

/// A committed golden file from this target's `Golden` resources.
func golden(_ name: String) throws -> String {
    guard let url = Bundle.module.url(forResource: "Golden/" + name, withExtension: nil) else {
        throw CocoaError(.fileNoSuchFile)
    }
    return try String(contentsOf: url, encoding: .utf8)
}
