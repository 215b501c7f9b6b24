/// The Lua position that starts a rule error's message: `rules.lua:14` in
/// `rules.lua:14: track: user needs email or userId`.
package enum RulePosition {
    /// `("rules.lua:14", "track: ...")` for a message starting `NAME:LINE:` (spaces after the second
    /// colon dropped); nil for a message that does not start with a position.
    package static func split(_ message: Substring) -> (position: Substring, rest: Substring)? {
        guard let colon = message.firstIndex(of: ":") else { return nil }
        let line = message.index(after: colon)
        guard let second = message[line...].firstIndex(of: ":"), line < second,
            message[line..<second].allSatisfy(\.isNumber)
        else { return nil }
        return (message[..<second], message[message.index(after: second)...].drop { $0 == " " })
    }
}
