/// The client's address as proxies report it, for `encharge.client_ip(req)`.
public enum ClientAddress {
    /// The first entry of an `X-Forwarded-For` value (`client, proxy1, proxy2`) that is an IP
    /// address, with or without a port; nil when none is.
    public static func firstValid(inForwardedFor header: String) -> String? {
        for entry in header.split(separator: ",") {
            if let address = address(fromEntry: String(entry)) { return address }
        }
        return nil
    }

    /// `entry` as a bare address: trimmed, without `[...]` brackets or a `:port`, or nil when
    /// what is left is not an IPv4 or IPv6 address (`unknown`, a host name).
    public static func address(fromEntry entry: String) -> String? {
        let text = EventValidator.trimmingWhitespace(entry)
        if EventValidator.isIPAddress(text) { return text }
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            // [v6] or [v6]:port
            let inner = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && isPort(rest.dropFirst())) else { return nil }
            return EventValidator.isIPAddress(inner) ? inner : nil
        }
        // v4:port (an IPv6 address without brackets has more than one colon).
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, isPort(parts[1]), EventValidator.isIPAddress(String(parts[0])),
            !parts[0].contains(":")
        {
            return String(parts[0])
        }
        return nil
    }

    private static func isPort(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.count <= 5 && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}
