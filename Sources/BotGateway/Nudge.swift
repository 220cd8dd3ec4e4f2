import Foundation
import Synchronization

/// A nudge between services ("an update arrived", "a job finished") so loops wake at once instead of
/// waiting for their next poll. Nudges coalesce: a fire with nobody waiting wakes the next wait at once, many
/// fires wake it once. Losing one only costs a poll interval.
///
/// (Not an `AsyncStream`: a stream finishes for good when a task waiting on it is cancelled, so after the
/// first timeout every wait returned at once and the loops around it spun.)
public final class Nudge: Sendable {
    private struct State {
        var pending = false
        var nextID: UInt64 = 0
        /// Waits in progress, and those of them whose continuation is in place.
        var active: Set<UInt64> = []
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        /// Released (timed out, cancelled) before their continuation was in place.
        var early: Set<UInt64> = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes every waiter, or the next one to wait when none is waiting yet.
    public func fire() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return []
            }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// Returns when fired (true), after `timeout` or when the task is cancelled (false), whichever comes first.
    @discardableResult
    func wait(timeout: Duration) async -> Bool {
        let id = state.withLock { state -> UInt64? in
            if state.pending {
                state.pending = false
                return nil
            }
            state.nextID += 1
            state.active.insert(state.nextID)
            return state.nextID
        }
        guard let id else { return true }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.release(id)
        }
        let fired = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool? in
                    if state.early.remove(id) != nil { return false }
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    state.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            release(id)
        }
        timer.cancel()
        state.withLock { state in
            state.active.remove(id)
            state.early.remove(id)
        }
        return fired
    }

    /// Waits whose continuation is in place (for tests).
    var waiting: Int { state.withLock { $0.waiters.count } }

    /// Resumes wait `id` if it still waits; marks it to return at once if its continuation is not in place yet.
    private func release(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            if state.active.contains(id) { state.early.insert(id) }
            return nil
        }
        waiter?.resume(returning: false)
    }
}
