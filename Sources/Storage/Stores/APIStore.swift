import Foundation

/// What the HTTP API keeps beside the bot's state: its tokens, its clients' jobs, and the completion
/// callbacks it owes them.
public protocol APIStore: Sendable {
    /// Records a new token; `StorageError.invalid` when a live token has that name.
    func createToken(_ token: APITokenRecord) async throws -> APITokenRecord
    /// Every token, revoked ones too, oldest first.
    func apiTokens() async throws -> [APITokenRecord]
    /// The token with this hash, revoked or not (the caller refuses a revoked one).
    func apiToken(hash: String) async throws -> APITokenRecord?
    /// Revokes the live token of that name; false when there is none.
    func revokeToken(name: String, now: Timestamp) async throws -> Bool
    func touchToken(id: Int64, now: Timestamp) async throws
    /// Jobs a token made on a UTC day (`APIUsage.day(of:)`), for its daily quota: a counter raised with each job
    /// it makes, read in one lookup whatever the day's volume (counting the day's jobs grew with every upload).
    func jobCount(tokenID: Int64, day: Int64) async throws -> Int
    /// Spend and tokens per UTC day and model, from `since` on: every step's LLM calls and the others (report summaries).
    func spending(since: Timestamp) async throws -> [Spending]
}

/// The UTC days a token's quota counts in.
public enum APIUsage {
    /// Days since 1970-01-01 UTC.
    public static func day(of time: Timestamp) -> Int64 { Int64((time / 86_400).rounded(.down)) }
    /// Whole seconds from `time` until the next UTC day starts (at least 1): when a spent quota is back.
    public static func secondsUntilNextDay(after time: Timestamp) -> Int {
        max(1, Int((Double(day(of: time) + 1) * 86_400 - time).rounded(.up)))
    }
}

/// One day's spend on one model (nil: calls that named none).
public struct Spending: Sendable, Equatable, Codable {
    /// "2026-11-24" (UTC).
    public var day: String
    public var model: String?
    public var calls: Int
    public var inputTokens: Int
    public var outputTokens: Int
    public var costUSD: Double

    public init(day: String, model: String?, calls: Int, inputTokens: Int, outputTokens: Int, costUSD: Double) {
        self.day = day
        self.model = model
        self.calls = calls
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
    }
}

extension APIStore {
    public func revokeToken(name: String) async throws -> Bool {
        try await revokeToken(name: name, now: .now)
    }
}
