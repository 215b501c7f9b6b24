// An app that embeds encharge-lua's rule engine: it loads a Lua rule, maps one record to events,
// checks the events it edited, and delivers them to the Encharge Ingest API (here `mock-ingest`).
// Only the public API of the EnchargeRules, EnchargeKit, JSONKit and LuaKit products is used.
import EnchargeKit
import EnchargeRules
import JSONKit
import LuaKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `text` to standard error, all of it.
func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

/// Loads the rule, maps the record, edits and validates the events, delivers them; returns the
/// events delivered.
func runExample(_ arguments: ExampleArguments) throws(ExampleError) -> [Event] {
    // 1. Load the rule. Settings become `encharge.settings`; the rule's log lines come back here.
    var options = RuleOptions(
        rulesPath: arguments.rulesPath, limits: LuaLimits(memoryBytes: 16 << 20, seconds: 1),
        settings: JSONObject([("app", .string("swift-embedding"))]))
    options.logHandler = { line in writeStandardError("rule: " + line) }
    let engine: RuleEngine
    do {
        engine = try RuleEngine(options: options)
    } catch {
        throw ExampleError(error.description, status: 2)
    }
    for warning in engine.warnings { writeStandardError(warning + "\n") }

    // 2. Map one record. The engine validates every event the rule emits.
    let record: JSONValue
    do {
        record = try JSONValue(parsing: arguments.record)
    } catch {
        throw ExampleError("--record is not JSON: \(error.description)", status: 2)
    }
    var events: [Event]
    switch engine.map(value: record, source: "example record") {
    case .mapped(let mapped): events = mapped
    case .skipped(let reason):
        throw ExampleError("the rule skipped the record (\(reason)); pass a --record it maps", status: 1)
    case .failed(let message, _): throw ExampleError(message, status: 1)
    }
    for line in engine.warningLines() { writeStandardError(line + "\n") }
    guard !events.isEmpty else { throw ExampleError("the rule emitted no event for the record", status: 1) }

    // 3. Add what only the app knows, then validate again: an edited event is the app's to check.
    for index in events.indices where events[index].name != "identify" {
        var edited = events[index]
        edited.properties = edited.properties ?? JSONObject()
        edited.properties?["appVersion"] = "1.0.0"
        var warnings: [EventWarning] = []
        do {
            events[index] = try Event(validating: edited.jsonValue, warnings: &warnings)
        } catch {
            throw ExampleError("event \(index + 1) (\(edited.name)) is invalid after editing: \(error)", status: 1)
        }
        for warning in warnings { writeStandardError("warning: event \(index + 1): \(warning)\n") }
    }
    for event in events { print(String(decoding: event.wireJSON(), as: UTF8.self)) }
    fflush(nil)  // the events show before any delivery message, also when stdout is a pipe

    // 4. Deliver: the engine retries on its own thread; `finish` waits for every event to settle.
    let configuration = DeliveryConfiguration(
        endpoint: arguments.endpoint, writeKey: arguments.writeKey, userAgent: "encharge-embedding-example/1.0",
        connectTimeout: 5, requestTimeout: 10, maxAttempts: 3)
    let settled = SettledEvents()
    let delivery: DeliveryEngine
    do {
        delivery = try DeliveryEngine(
            configuration: configuration, deadLetters: nil, context: DeadLetterContext(),
            onSettled: { tag, outcome in settled.settle(tag: tag, outcome: outcome) })
    } catch {
        throw ExampleError("cannot deliver to \(arguments.endpoint): \(error)", status: 2)
    }
    delivery.submit(events, source: "example record", tags: events.indices.map { Int64($0) })
    _ = delivery.finish(timeout: 60)
    for index in events.indices {
        switch settled.outcome(of: Int64(index)) {
        case .delivered?: continue
        case .dead(let error)?, .interrupted(let error)?:
            let hint = error.kind == .writeKeyRefused ? "; check ENCHARGE_WRITE_KEY" : ""
            throw ExampleError(
                "event \(index + 1) (\(events[index].name)) was not delivered to \(arguments.endpoint): \(error)\(hint)",
                status: 1)
        case nil:
            throw ExampleError("event \(index + 1) (\(events[index].name)) was not settled", status: 1)
        }
    }
    return events
}

do throws(ExampleError) {
    let arguments = try ExampleArguments(Array(CommandLine.arguments.dropFirst()))
    let delivered = try runExample(arguments)
    writeStandardError("delivered \(delivered.count) events to \(arguments.endpoint)\n")
} catch {
    writeStandardError("encharge-embedding-example: \(error.description)\n")
    exit(error.status)
}
