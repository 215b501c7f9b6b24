import Testing

/// Waits until `condition` holds, polling every `interval`, for at most `timeout`. When it still
/// does not hold, records a test issue saying `message` and how long it waited, and returns
/// false (so a caller can `try #require` it before reading what the condition promised).
@discardableResult
public func eventually(
    _ message: @autoclosure () -> String, timeout: Duration = .seconds(20), interval: Duration = .milliseconds(10),
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    if try await condition() { return true }
    Issue.record("timed out after \(timeout): \(message())", sourceLocation: sourceLocation)
    return false
}
