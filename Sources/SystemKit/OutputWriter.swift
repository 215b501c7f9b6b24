/// Where a job or server writes its lines (stdout, stderr, or a buffer in tests). Injected, so that
/// nothing reaches for a global printer.
package protocol OutputWriter: Sendable {
    /// Writes `text` as it is (add the newline yourself). One call is atomic with respect to other
    /// calls: lines written from several threads never interleave.
    func write(_ text: String)

    /// Writes UTF-8 text given as bytes, as `write(_:)` would write it decoded. Writers onto a
    /// file descriptor write the bytes as they are, sparing a hot path (`run --dry-run`'s event
    /// lines) the validating copy into a `String`.
    func write(utf8 bytes: UnsafeRawBufferPointer)
}

extension OutputWriter {
    /// Decodes the bytes and writes the text (invalid UTF-8 repaired, as `String(decoding:)` does).
    package func write(utf8 bytes: UnsafeRawBufferPointer) {
        write(String(decoding: bytes, as: UTF8.self))
    }
}

extension OutputWriter where Self == FileDescriptorWriter {
    /// The process's standard output.
    package static var standardOutput: FileDescriptorWriter { FileDescriptorWriter(.standardOutput) }
    /// The process's standard error.
    package static var standardError: FileDescriptorWriter { FileDescriptorWriter(.standardError) }
}
