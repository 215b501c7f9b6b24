/// How the generic `hmac` scheme reads its signature: which header, which hash, which text encoding,
/// and which literal prefix (such as `sha256=`) comes before the signature.
package struct HMACOptions: Sendable, Equatable {
    /// The hash under the HMAC.
    package enum Algorithm: String, Sendable, CaseIterable {
        case sha256, sha1
    }

    /// How the MAC is written in the header.
    package enum Encoding: String, Sendable, CaseIterable {
        /// Hexadecimal digits, upper or lower case.
        case hex
        /// Standard base64 (`+/`), padding optional.
        case base64
    }

    /// The header carrying the signature; matched case-insensitively.
    package var header: String
    package var algorithm: Algorithm
    package var encoding: Encoding
    /// Text before the signature in the header value (`sha256=`), matched case-insensitively;
    /// empty when the value is the signature alone.
    package var prefix: String

    package init(
        header: String = "x-signature", algorithm: Algorithm = .sha256, encoding: Encoding = .hex,
        prefix: String = ""
    ) {
        self.header = header
        self.algorithm = algorithm
        self.encoding = encoding
        self.prefix = prefix
    }
}
