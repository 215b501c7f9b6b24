import Synchronization

/// An `OutputWriter` onto a file descriptor, unbuffered: each `write` is one `writeAll`, so a
/// script reading a pipe sees a line as soon as it is written. Writes from all writers of this
/// process go one at a time, so even a text longer than PIPE_BUF, which the kernel may take in
/// pieces, never interleaves with another thread's.
package struct FileDescriptorWriter: OutputWriter {
    /// The descriptor written to; not closed by this writer.
    package let descriptor: FileDescriptor

    /// Serializes every `write` of this process (there are only stdout and stderr in practice).
    private static let serial = Mutex(())

    package init(_ descriptor: FileDescriptor) { self.descriptor = descriptor }

    package func write(_ text: String) {
        // A failed write to stdout/stderr has nowhere to be reported; the caller's exit status
        // already says what happened.
        Self.serial.withLock { _ in _ = descriptor.writeAll(text) }
    }

    /// Writes the bytes as they are; the caller vouches that they are valid UTF-8.
    package func write(utf8 bytes: UnsafeRawBufferPointer) {
        Self.serial.withLock { _ in _ = descriptor.writeAll(bytes) }
    }
}
