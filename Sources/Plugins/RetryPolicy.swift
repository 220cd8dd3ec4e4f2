import Foundation

/// When to try a transient failure again: honour the remote side's `retry-after`, else exponential
/// backoff with jitter (0.5 s · 2ⁿ, capped at 8 s — what the official LLM SDKs do), 3 attempts in all.
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    /// A `retry-after` longer than this is capped (a misbehaving server must not park a job for days).
    public var maxRetryAfter: Double

    public init(maxAttempts: Int = 3, baseDelay: Double = 0.5, maxDelay: Double = 8, maxRetryAfter: Double = 3600) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// Seconds to wait after attempt `attempt` (1-based) failed.
    public func delay(afterAttempt attempt: Int, retryAfter: Double?) -> Double {
        if let retryAfter, retryAfter >= 0 { return min(retryAfter, maxRetryAfter) }
        let exponential = min(maxDelay, baseDelay * pow(2, Double(max(0, attempt - 1))))
        return exponential * Double.random(in: 0.75...1.0)
    }

    /// Sleeps the backoff for `attempt` (the same schedule everywhere: pipeline, Telegram calls, receive loops).
    public func pause(afterAttempt attempt: Int, retryAfter: Double? = nil) async throws {
        try await Task.sleep(for: .milliseconds(Int(delay(afterAttempt: attempt, retryAfter: retryAfter) * 1000)))
    }
}
