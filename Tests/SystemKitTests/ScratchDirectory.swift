import Glibc
import SystemKit
import Testing

/// A fresh directory under /tmp for one test, removed with its files when the value goes.
final class ScratchDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/systemkit-tests-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: try #require(made))
    }

    deinit {
        // Tests create only plain files and directories one level down.
        if let directory = opendir(path) {
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
                }
                if name == "." || name == ".." { continue }
                let child = path + "/" + name
                if unlink(child) != 0 { rmdir(child) }
            }
            closedir(directory)
        }
        rmdir(path)
    }

    /// Writes `bytes` to `name` inside the directory and returns the file's path.
    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let filePath = path + "/" + name
        let descriptor = open(filePath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        try #require(bytes.withUnsafeBytes { FileDescriptor(rawValue: descriptor).writeAll($0) })
        return filePath
    }
}
