import Foundation

/// What the gateway spent and holds: counts for `/stats`, and LLM calls that belong to no job's step.
public protocol UsageLedger: Sendable {
    /// `userID`: whose question it answered (`/ask`), so the spend shows as theirs.
    func recordLLMUsage(purpose: String, groupID: Int64?, userID: Int64?, usage: StepUsage, now: Timestamp) async throws
    func stats() async throws -> GatewayStats
    /// Counts one `/ask` of `userID` against `limit` a day (UTC days): the asks of the day including this one,
    /// or nil when the day's limit was reached already (nothing is counted then). Atomic across gateways.
    func admitQuestion(userID: Int64, limit: Int, now: Timestamp) async throws -> Int?
}

extension UsageLedger {
    public func admitQuestion(userID: Int64, limit: Int) async throws -> Int? {
        try await admitQuestion(userID: userID, limit: limit, now: .now)
    }

    public func recordLLMUsage(purpose: String, groupID: Int64?, userID: Int64? = nil, usage: StepUsage, now: Timestamp = .now) async throws {
        try await recordLLMUsage(purpose: purpose, groupID: groupID, userID: userID, usage: usage, now: now)
    }
}
