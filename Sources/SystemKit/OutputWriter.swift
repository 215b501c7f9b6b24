/// Where a job or server writes its lines (stdout, stderr, or a buffer in tests). Injected, so that
/// nothing reaches for a global printer.
package protocol OutputWriter: Sendable {
    /// Writes `text` as it is (add the newline yourself). One call is atomic with respect to other
    /// calls: lines written from several threads never interleave.
    func write(_ text: String)
}

extension OutputWriter where Self == FileDescriptorWriter {
    /// The process's standard output.
    package static var standardOutput: FileDescriptorWriter { FileDescriptorWriter(.standardOutput) }
    /// The process's standard error.
    package static var standardError: FileDescriptorWriter { FileDescriptorWriter(.standardError) }
}
