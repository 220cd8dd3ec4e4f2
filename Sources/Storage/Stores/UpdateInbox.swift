import Foundation

/// Telegram updates as received, kept until handled.
///
/// - **Recorded once.** An update is stored durably, keyed by Telegram's `update_id`, before Telegram is
///   told it arrived; recording it again (Telegram resends) changes nothing.
/// - **In order per chat.** A chat's updates are handled oldest first; an update that must wait (postponed)
///   holds back the later ones of its chat and no other chat's.
/// - **Handled once.** An update is pending until `finishUpdate`; after a crash it is handled again, so its
///   handler must be idempotent (the outbox's reply keys and the job's `sourceKey` make it so).
public protocol UpdateInbox: Sendable {
    /// Returns how many were new.
    func recordUpdates(_ updates: [(id: Int64, chatID: Int64?, payload: Data)], now: Timestamp) async throws -> Int
    /// The oldest due update of each chat (an update that names no chat stands alone).
    func dueUpdateHeads(limit: Int, now: Timestamp) async throws -> [TelegramUpdateRecord]
    /// The chat's oldest pending update if it is due now.
    func nextDueUpdate(chatID: Int64, now: Timestamp) async throws -> TelegramUpdateRecord?
    func postponeUpdate(id: Int64, until: Timestamp, reason: String) async throws
    /// When the earliest postponed update becomes due.
    func nextUpdateDue() async throws -> Timestamp?
    func finishUpdate(id: Int64, error: String?, now: Timestamp) async throws
    func lastUpdateID() async throws -> Int64?
}

extension UpdateInbox {
    /// Records an update durably; false when the same `update_id` was recorded before (Telegram resends).
    public func recordUpdate(id: Int64, chatID: Int64?, payload: Data) async throws -> Bool {
        try await recordUpdates([(id, chatID, payload)], now: .now) == 1
    }

    public func recordUpdates(_ updates: [(id: Int64, chatID: Int64?, payload: Data)]) async throws -> Int {
        try await recordUpdates(updates, now: .now)
    }

    public func dueUpdateHeads() async throws -> [TelegramUpdateRecord] {
        try await dueUpdateHeads(limit: 200, now: .now)
    }

    public func nextDueUpdate(chatID: Int64) async throws -> TelegramUpdateRecord? {
        try await nextDueUpdate(chatID: chatID, now: .now)
    }

    public func finishUpdate(id: Int64, error: String? = nil) async throws {
        try await finishUpdate(id: id, error: error, now: .now)
    }
}
