import Logging
import PostgresNIO
import Storage
import Synchronization

/// `LISTEN botgateway_jobs` on a connection of its own, so idle workers wake when a job is queued instead of
/// polling the table. Every notification bumps a counter; a worker notes the counter before it looks for work
/// (`mark`) and waits only while it is unchanged (`wait(after:upTo:)`), so a job queued between its empty
/// claim and its wait is never missed. The connection is opened on first use and opened again after it drops
/// (the counter is bumped then too: jobs may have been queued meanwhile); while it is down, waits simply time
/// out, which is the poll the workers fall back on.
final class WorkListener: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waits whose timer or cancellation came before they began waiting.
        var ended: Set<UInt64> = []
        var nextWaiter: UInt64 = 0
        var task: Task<Void, Never>?
        var closed = false
    }

    private let state = Mutex(State())
    private let url: DatabaseURL
    private let channel: String
    private let logger: Logger

    init(url: DatabaseURL, channel: String, logger: Logger) {
        self.url = url
        self.channel = channel
        self.logger = logger
    }

    /// The counter now; starts listening on first use.
    func mark() -> UInt64 {
        state.withLock { state in
            if state.task == nil && !state.closed {
                state.task = Task { [self] in await listen() }
            }
            return state.generation
        }
    }

    /// Returns once the counter moves past `mark`, after `seconds`, or when cancelled, whichever comes first.
    func wait(after mark: UInt64, upTo seconds: Double) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timer = Task { [self] in
            guard (try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))) != nil else { return }
            resume(id)
        }
        defer {
            timer.cancel()
            state.withLock { _ = $0.ended.remove(id) }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Bool in
                    if state.ended.remove(id) != nil || state.generation != mark || state.closed { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            resume(id)
        }
    }

    private func resume(_ id: UInt64) {
        let waiter = state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                state.ended.insert(id)
                return nil as CheckedContinuation<Void, Never>?
            }
            return waiter
        }
        waiter?.resume()
    }

    private func wakeAll() {
        let waiting = state.withLock { state in
            state.generation &+= 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for continuation in waiting { continuation.resume() }
    }

    func close() async {
        let task = state.withLock { state in
            state.closed = true
            return state.task
        }
        task?.cancel()
        await task?.value
        wakeAll()
    }

    /// Keeps one listening connection open until closed, reconnecting with a growing pause (1 s to 30 s).
    private func listen() async {
        var pause = 1.0
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(on: PostgresClient.defaultEventLoopGroup.next(),
                                                                      configuration: try url.connectionConfiguration(), id: 1, logger: logger).get()
                pause = 1
                do {
                    try await connection.listen(on: channel) { notifications in
                        // Listening from here on: whatever was queued while we were not is worth a look.
                        wakeAll()
                        for try await _ in notifications { wakeAll() }
                    }
                } catch {
                    if !Task.isCancelled { logger.warning("lost the job notifications; workers poll until they are back", metadata: ["error": "\(PostgresDatabase.plainReason(error))"]) }
                }
                try? await connection.close()
            } catch {
                if !Task.isCancelled { logger.warning("cannot listen for job notifications; workers poll meanwhile", metadata: ["error": "\(PostgresDatabase.plainReason(error))"]) }
            }
            try? await Task.sleep(for: .milliseconds(Int(pause * 1000)))
            pause = min(pause * 2, 30)
        }
    }
}
