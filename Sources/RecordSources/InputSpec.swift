#if canImport(Glibc)
import Glibc
#endif

/// One input of a run.
package struct InputSpec: Sendable {
    package var path: String
    package var format: InputFormat
    /// The byte between CSV fields (`--delimiter`).
    package var delimiter: UInt8
    /// The array of records inside a `.json` document (`--records-path`).
    package var recordsPath: JSONPointer?
    package init(
        path: String, format: InputFormat, delimiter: UInt8 = UInt8(ascii: ","), recordsPath: JSONPointer? = nil
    ) {
        self.path = path
        self.format = format
        self.delimiter = delimiter
        self.recordsPath = recordsPath
    }

    /// Nil when the input can be opened for reading, else the one-line error to print
    /// (`error: cannot read in.jsonl: No such file or directory; check the path`). Stdin always can.
    /// A regular file is opened and closed; a pipe or device is only checked with `access`, since
    /// opening and closing a named pipe would end its writer's stream before the run reads it.
    package func unreadableMessage() -> String? {
        guard path != "-" else { return nil }
        func failure() -> String { "error: cannot read \(path): \(String(cString: strerror(errno))); check the path" }
        var info = stat()
        guard stat(path, &info) == 0 else { return failure() }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            return "error: cannot read \(path): it is a directory; check the path"
        case S_IFREG:
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return failure() }
            close(descriptor)
            return nil
        default:
            return access(path, R_OK) == 0 ? nil : failure()
        }
    }
}
