import Foundation
import Logging
import Plugins
import ServiceLifecycle
import Storage

/// A nudge between services ("an update arrived", "a job finished") so loops wake at once instead of
/// waiting for their next poll. Nudges coalesce; losing one only costs a poll interval.
public final class Nudge: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func fire() {
        continuation.yield()
    }

    /// Returns when fired or after `timeout`, whichever comes first.
    func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [stream] in
                var iterator = stream.makeAsyncIterator()
                _ = await iterator.next()
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }
}
