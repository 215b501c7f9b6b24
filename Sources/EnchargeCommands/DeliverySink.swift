import EnchargeKit

/// Hands events to the delivery engine.
final class DeliverySink: EventSink {
    let engine: DeliveryEngine
    init(engine: DeliveryEngine) { self.engine = engine }
    func emit(_ events: [Event], source: String) { engine.submit(events, source: source) }
}
