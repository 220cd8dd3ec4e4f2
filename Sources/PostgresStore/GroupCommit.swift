import Synchronization

/// Group commit for one kind of request: callers that ask while a round is running are served together by the
/// next round, in one transaction. A caller finding no round running starts one at once (no added wait); under
/// load, one round serves every caller that arrived meanwhile (at most `limit`), so the server runs a few
/// set-wise statements for them instead of a few statements apiece. A failed round fails each of its callers.
///
/// A second round runs beside the first only while the first serves one caller: two job loops then claim side by
/// side as before, while many loops wait for one round with all of them. (Measured with 16 loops per process,
/// always allowing two rounds halved the batches and cost a quarter of the throughput; never allowing it cost
/// two loops a quarter of theirs: `botgateway-bench pipeline --store postgres`.)
final class GroupCommit<Request: Sendable, Response: Sendable>: Sendable {
    typealias Round = @Sendable ([Request]) async -> [Result<Response, any Error>]

    private struct Waiting {
        var request: Request
        var round: Round
        var continuation: CheckedContinuation<Response, any Error>
    }

    private struct State {
        /// Rounds running, and the callers they serve.
        var running = 0
        var serving = 0
        var waiting: [Waiting] = []
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// `round` answers its requests in order, one result each; every caller passes the same one (the store's).
    func submit(_ request: Request, round: @escaping Round) async throws -> Response {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Response, any Error>) in
            let start = state.withLock { state -> Bool in
                state.waiting.append(Waiting(request: request, round: round, continuation: continuation))
                guard state.running == 0 || (state.running == 1 && state.serving <= 1) else { return false }
                state.running += 1
                return true
            }
            if start { Task { await self.runWhileAsked() } }
        }
    }

    /// Rounds until nobody is waiting.
    private func runWhileAsked() async {
        var served = 0
        while true {
            let batch = state.withLock { state -> [Waiting] in
                let batch = Array(state.waiting.prefix(limit))
                state.waiting.removeFirst(batch.count)
                state.serving += batch.count - served
                if batch.isEmpty { state.running -= 1 }
                return batch
            }
            guard !batch.isEmpty else { return }
            served = batch.count
            let results = await batch[0].round(batch.map(\.request))
            for (index, waiting) in batch.enumerated() {
                waiting.continuation.resume(with: index < results.count ? results[index] : .failure(CancellationError()))
            }
        }
    }
}
