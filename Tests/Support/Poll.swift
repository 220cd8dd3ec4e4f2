/// Checks `condition` every `interval` until it holds or `timeout` has passed; true when it held.
/// For state that another process or task changes in its own time (a row's attempts, a reply's state).
@discardableResult
public func poll(timeout: Duration, every interval: Duration = .milliseconds(100), until condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: interval)
    }
}
