/// Why a date string cannot be read: it does not match the format, or the format itself is wrong.
public struct DateReadError: Error, CustomStringConvertible, Sendable {
    /// What could not be read as a date, and why.
    public let description: String
}
