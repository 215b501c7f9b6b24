/// Seconds with two decimals, as messages show them: `2.05 s`.
package func formatSeconds(_ seconds: Double) -> String {
    let tenths = Int((seconds * 100).rounded())
    return "\(tenths / 100).\(tenths % 100 < 10 ? "0" : "")\(tenths % 100) s"
}
