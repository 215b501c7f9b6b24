/// A form body (`application/x-www-form-urlencoded`) that cannot be decoded without loss.
package struct FormDecodingError: Error, Sendable, CustomStringConvertible {
    package var description: String
}
