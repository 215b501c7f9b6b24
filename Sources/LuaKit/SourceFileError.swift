import SystemKit

/// Why a rule file or module cannot be read, in words that follow its path
/// (`No such file or directory`, `it is a directory`).
struct SourceFileError: Error {
    let reason: String
}

/// Reads a rule file or module whole, at most `LuaState.fileSizeLimit` bytes.
func readSourceFile(_ path: String) throws(SourceFileError) -> [UInt8] {
    do {
        // `./-` keeps a file named `-` a file; FileReader reads standard input for `-`.
        return try FileReader.read(path == "-" ? "./-" : path, limit: LuaState.fileSizeLimit)
    } catch {
        switch error.kind {
        case .cannotOpen(let reason), .readFailed(let reason): throw SourceFileError(reason: reason)
        case .directory: throw SourceFileError(reason: "it is a directory")
        case .tooLarge: throw SourceFileError(reason: "file is larger than 16 MiB")
        }
    }
}
