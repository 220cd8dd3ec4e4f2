import Foundation
import Synchronization

/// A token bucket per API token: `rate` requests a second on average, bursts of up to `2 × rate`. In memory,
/// per gateway process (several gateways behind a balancer each allow the rate).
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private let buckets = Mutex<[Int64: Bucket]>([:])
    private let clock: @Sendable () -> Double

    init(clock: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        self.clock = clock
    }

    /// Takes one request from the token's bucket; when it is empty, the seconds until one is back instead.
    func take(_ tokenID: Int64, rate: Double) -> Double? {
        let now = clock(), capacity = max(1, rate * 2)
        return buckets.withLock { buckets in
            var bucket = buckets[tokenID] ?? Bucket(tokens: capacity, updated: now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            defer { buckets[tokenID] = bucket }
            guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / rate }
            bucket.tokens -= 1
            return nil
        }
    }
}
