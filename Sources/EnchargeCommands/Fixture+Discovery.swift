import Foundation
import SystemKit

#if canImport(Glibc)
import Glibc
#endif

extension Fixture {
    /// The fixture files to run: the `*.json` files of each folder in `given` (by name) and each
    /// file in it as it is, each file once (the first time it is named, compared by resolved path);
    /// with nothing given, those of the `fixtures/` folder beside `rulesPath`. Throws when the
    /// default folder is missing or a folder holds no fixture.
    static func files(rulesPath: String, given: [String]) throws(FixtureError) -> [String] {
        guard !given.isEmpty else {
            let slash = rulesPath.lastIndex(of: "/")
            let folder = slash.map { String(rulesPath[...$0]) + "fixtures" } ?? "fixtures"
            guard isDirectory(folder) else {
                throw FixtureError(
                    file: folder, jsonPath: nil,
                    "no such folder; put fixture files (*.json) in it, give fixture paths, or start one with encharge-lua init"
                )
            }
            return try jsonFiles(in: folder)
        }
        var files: [String] = []
        var seen: Set<String> = []
        for path in given {
            for file in isDirectory(path) ? try jsonFiles(in: path) : [path]
            where seen.insert(resolved(file)).inserted {
                files.append(file)
            }
        }
        return files
    }

    /// `path` with symbolic links, `.` and `..` resolved, so that two spellings of one file compare
    /// equal; `path` itself when it does not resolve (a missing file, reported when it is read).
    private static func resolved(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether `path` names a folder.
    static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    /// The `*.json` files of `folder` (not hidden ones), sorted by name.
    private static func jsonFiles(in folder: String) throws(FixtureError) -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw FixtureError(file: folder, jsonPath: nil, "cannot be listed; check its permissions")
        }
        let fixtures = names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        guard !fixtures.isEmpty else {
            throw FixtureError(
                file: folder, jsonPath: nil, "holds no fixture files (*.json); add one, or start with encharge-lua init"
            )
        }
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        return fixtures.map { prefix + $0 }
    }
}
