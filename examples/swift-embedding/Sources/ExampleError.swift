/// Why the example stopped: a message for standard error and the exit status (1: the record or its
/// delivery failed; 2: a usage error or a rule that does not load).
struct ExampleError: Error, CustomStringConvertible {
    var description: String
    var status: Int32

    init(_ description: String, status: Int32) {
        self.description = description
        self.status = status
    }
}
