import Foundation

/// What the gateway spent and holds: counts for `/stats`, and LLM calls that belong to no job's step.
public protocol UsageLedger: Sendable {
    func recordLLMUsage(purpose: String, groupID: Int64?, usage: StepUsage, now: Timestamp) async throws
    func stats() async throws -> GatewayStats
}

extension UsageLedger {
    public func recordLLMUsage(purpose: String, groupID: Int64?, usage: StepUsage) async throws {
        try await recordLLMUsage(purpose: purpose, groupID: groupID, usage: usage, now: .now)
    }
}
