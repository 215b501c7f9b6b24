/// The system refused a new thread (`pthread_create` failed, usually EAGAIN: a thread limit).
package struct ThreadStartError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The error number `pthread_create` (or setting the stack size) returned.
    package var code: Int32

    package init(code: Int32) { self.code = code }

    package var description: String { "the system refused a new thread (error \(code))" }
}
