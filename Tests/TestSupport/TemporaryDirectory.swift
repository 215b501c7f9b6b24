import Foundation

/// A fresh, empty directory under the system's temporary folder, for one test's files; the test
/// removes it with `cleanup()` (usually in a `defer`) or runs inside `TemporaryDirectory.with`.
public struct TemporaryDirectory: Sendable {
    /// The absolute path of the directory.
    public let path: String

    /// Creates a new directory named `encharge-<prefix>-<UUID>`.
    public init(prefix: String = "e2e") throws {
        path = NSTemporaryDirectory() + "encharge-\(prefix)-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Runs `body` with a fresh directory and removes it afterwards, also when `body` throws.
    public static func with<Result>(
        prefix: String = "e2e", _ body: (TemporaryDirectory) async throws -> Result
    ) async throws -> Result {
        let directory = try TemporaryDirectory(prefix: prefix)
        defer { directory.cleanup() }
        return try await body(directory)
    }

    /// The path of `name` inside the directory (the file need not exist).
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` (UTF-8) and returns the file's path.
    public func write(_ name: String, _ text: String) throws -> String {
        let file = file(name)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Writes `bytes` to `name` as they are and returns the file's path.
    public func write(_ name: String, bytes: [UInt8]) throws -> String {
        let file = file(name)
        guard FileManager.default.createFile(atPath: file, contents: Data(bytes)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file])
        }
        return file
    }

    /// The contents of `name`, or "" when it cannot be read.
    public func read(_ name: String) -> String {
        (try? String(contentsOfFile: file(name), encoding: .utf8)) ?? ""
    }

    /// The non-empty lines of `name`.
    public func lines(_ name: String) -> [String] {
        read(name).split(separator: "\n").map(String.init)
    }

    /// Removes the directory and everything in it.
    public func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}
