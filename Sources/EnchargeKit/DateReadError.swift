/// Why a date string cannot be read: it does not match the format, or the format itself is wrong.
public struct DateReadError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
