import EnchargeKit

/// Where mapped events go: stdout (`--dry-run`) or the delivery engine.
package protocol EventSink: AnyObject {
    /// The events one record emitted, in emission order.
    func emit(_ events: [Event], source: String)
}
