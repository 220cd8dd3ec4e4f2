import Foundation
import GRDB

/// A Telegram update as received, kept until handled (`UpdateInbox`).
public struct TelegramUpdateRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "telegramUpdate"

    public var updateID: Int64
    public var payload: Data
    public var state: String
    public var receivedAt: Timestamp
    public var processedAt: Timestamp?
    public var error: String?
    /// The chat the update belongs to: one chat's updates are handled in order, chats independently.
    /// Nil for updates that name no chat.
    public var chatID: Int64?
    /// Tries that ended in "retry later" (Telegram or the disk unavailable), and when to try next.
    public var attempts: Int
    public var nextAttemptAt: Timestamp

    /// A pending update as just received.
    public init(updateID: Int64, chatID: Int64?, payload: Data, receivedAt: Timestamp = .now) {
        self.updateID = updateID
        self.payload = payload
        state = "pending"
        self.receivedAt = receivedAt
        self.chatID = chatID
        attempts = 0
        nextAttemptAt = receivedAt
    }
}
