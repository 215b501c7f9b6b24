import Foundation

/// A fresh, empty directory at a short path (`/tmp/encharge-XXXXXX`), for tests that compare the
/// rule locations Lua prints: Lua names a rules file by its path cut to "...tail" when the path is longer
/// than LUA_IDSIZE (60) allows, as a `TemporaryDirectory`'s path with `/rules.lua` is.
struct ShortTemporaryDirectory {
    /// The absolute path of the directory.
    let path: String

    /// Creates a new directory under /tmp with a unique six-character suffix.
    init() throws {
        var template = Array("/tmp/encharge-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: "/tmp/encharge-XXXXXX"])
        }
        path = String(cString: created)
    }

    /// The path of `name` inside the directory (the file need not exist).
    func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` (UTF-8) and returns the file's path.
    func write(_ name: String, _ text: String) throws -> String {
        let file = file(name)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// The contents of `name`, or "" when it cannot be read.
    func read(_ name: String) -> String { (try? String(contentsOfFile: file(name), encoding: .utf8)) ?? "" }

    /// Removes the directory and everything in it.
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}
