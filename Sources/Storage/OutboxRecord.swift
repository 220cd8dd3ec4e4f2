import Foundation
import GRDB

public enum OutboxState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case pending
    /// Handed to Telegram; whether it arrived is unknown until the answer comes back.
    case sending
    case sent
    /// Telegram refused it for good (the bot was blocked, the chat is gone).
    case failed
    /// Telegram stayed unreachable for longer than the delivery horizon: kept, shown in `jobs show` and
    /// `/metrics`, not tried again.
    case undelivered
}

/// A reply to send. `payload` is the sender's own JSON; the store only keeps it and its state.
public struct OutboxRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "outbox"

    public var id: Int64?
    public var chatID: Int64
    public var kind: String
    public var payload: Data
    /// One reply per event ("ack:update:17", "result:job:42"): enqueueing it again does nothing.
    public var dedupeKey: String
    public var state: OutboxState
    public var attempts: Int
    public var nextAttemptAt: Timestamp
    public var lastError: String?
    public var createdAt: Timestamp
    public var sentAt: Timestamp?

    public init(chatID: Int64, kind: String, payload: Data, dedupeKey: String, now: Timestamp = .now) {
        self.chatID = chatID
        self.kind = kind
        self.payload = payload
        self.dedupeKey = dedupeKey
        state = .pending
        attempts = 0
        nextAttemptAt = now
        createdAt = now
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
