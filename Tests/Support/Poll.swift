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

/// Runs `body` every `interval` until it succeeds, rethrowing its last error once `timeout` has passed.
/// For a server that accepts connections a little before it takes requests (SeaweedFS on a loaded machine
/// resets the first ones while its filer starts).
public func eventually<T>(timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(250), _ body: () async throws -> T) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        do {
            return try await body()
        } catch {
            guard ContinuousClock.now < deadline else { throw error }
            try await Task.sleep(for: interval)
        }
    }
}
