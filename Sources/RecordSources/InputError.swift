/// An input that cannot be opened or read at all. The description carries no `error:`: whoever
/// reports it adds that after the input's position (`in.csv:1: error: ...`).
package struct InputError: Error, CustomStringConvertible, Sendable {
    package let description: String
    package init(_ description: String) { self.description = description }
}
