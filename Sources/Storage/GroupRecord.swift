import Foundation
import GRDB

public enum GroupKind: String, Codable, Sendable, DatabaseValueConvertible {
    /// A folder given to `botgateway batch`.
    case batch
    /// A Telegram album (`media_group_id`).
    case album
    /// Documents an API client uploaded under one `group` name.
    case api
    /// A `/report` over a chat's recent documents.
    case report
}

/// Documents that end in one consolidated report.
public struct GroupRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "jobGroup"

    public var id: Int64?
    public var kind: GroupKind
    /// Identifies the group across runs: the folder's real path, the album id, …
    public var key: String
    public var title: String
    public var chatID: Int64?
    public var userID: Int64?
    public var reportPath: String?
    public var consolidatedAt: Timestamp?
    public var createdAt: Timestamp
    public var lastAddedAt: Timestamp?
    public var notifiedAt: Timestamp?

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    /// Every column, as a store reads it back.
    public init(id: Int64?, kind: GroupKind, key: String, title: String, chatID: Int64?, userID: Int64?, reportPath: String?,
                consolidatedAt: Timestamp?, createdAt: Timestamp, lastAddedAt: Timestamp?, notifiedAt: Timestamp?) {
        self.id = id
        self.kind = kind
        self.key = key
        self.title = title
        self.chatID = chatID
        self.userID = userID
        self.reportPath = reportPath
        self.consolidatedAt = consolidatedAt
        self.createdAt = createdAt
        self.lastAddedAt = lastAddedAt
        self.notifiedAt = notifiedAt
    }
}
