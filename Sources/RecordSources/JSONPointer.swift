/// A JSON pointer (RFC 6901): `/data`, `/a~1b/0` (`~1` is `/`, `~0` is `~`); empty is the whole document.
package struct JSONPointer: Sendable, Equatable, CustomStringConvertible {
    /// The unescaped reference tokens.
    package let tokens: [String]

    package init(tokens: [String]) { self.tokens = tokens }

    /// Parses pointer text; throws an input error that says what a pointer looks like.
    package init(parsing text: String) throws(InputError) {
        if text.isEmpty {
            tokens = []
            return
        }
        guard text.hasPrefix("/") else {
            throw InputError(
                "the records path '\(text)' must be empty or start with '/' (a JSON pointer such as /data)")
        }
        var tokens: [String] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var escape = false
            for c in raw {
                if escape {
                    guard c == "0" || c == "1" else {
                        throw InputError(
                            "the records path '\(text)' has '~\(c)'; in a JSON pointer write '~0' for '~' and '~1' for '/'"
                        )
                    }
                    token.append(c == "0" ? "~" : "/")
                    escape = false
                } else if c == "~" {
                    escape = true
                } else {
                    token.append(c)
                }
            }
            if escape {
                throw InputError("the records path '\(text)' ends with '~'; in a JSON pointer write '~0' for '~'")
            }
            tokens.append(token)
        }
        self.tokens = tokens
    }

    /// The pointer text, escaped.
    package var description: String {
        tokens.map { "/" + $0.replacingTildeAndSlash() }.joined()
    }

    /// `token` as an array index: decimal digits without a leading zero.
    static func arrayIndex(_ token: String) -> Int? {
        guard !token.isEmpty, token.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            token == "0" || !token.hasPrefix("0")
        else { return nil }
        return Int(token)
    }
}

extension String {
    /// `~` as `~0` and `/` as `~1`, for a JSON pointer token.
    fileprivate func replacingTildeAndSlash() -> String {
        var result = ""
        for c in self {
            switch c {
            case "~": result += "~0"
            case "/": result += "~1"
            default: result.append(c)
            }
        }
        return result
    }
}
