import Foundation

/// How a chat's albums become documents (`/albums merge|separate|auto`).
public enum AlbumMode: String, Sendable, Codable, CaseIterable {
    /// Pages of one document together, distinct documents apart, decided from their text (`PageContinuity`).
    case auto
    /// Every album of images is one document.
    case merge
    /// Every item its own document (an album is still one report).
    case separate
}

/// Photos waiting to become documents: a Telegram album, or the pages sent after `/merge`. The pages are stored
/// (blob store) before they are added here, so a set survives a restart; once the set is quiet (an album) or
/// done (`/done`, or quiet for longer), it becomes one multi-page document or a document per page.
public struct PageSetRecord: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case album
        case merge
    }

    public var id: Int64?
    /// `album:CHAT:MEDIA_GROUP_ID` or `merge:CHAT:USER:N`.
    public var key: String
    public var kind: Kind
    public var chatID: Int64
    public var userID: Int64
    /// The message the result replies to: the set's first.
    public var messageID: Int64?
    public var languageCode: String?
    /// How the set is to become documents; `/merge` sets always merge.
    public var mode: AlbumMode
    public var createdAt: Timestamp
    public var lastAddedAt: Timestamp
    /// `/done` (or `/merge` again) said there are no more pages.
    public var closedAt: Timestamp?

    public init(id: Int64? = nil, key: String, kind: Kind, chatID: Int64, userID: Int64, messageID: Int64?, languageCode: String?,
                mode: AlbumMode, createdAt: Timestamp, lastAddedAt: Timestamp, closedAt: Timestamp? = nil) {
        self.id = id
        self.key = key
        self.kind = kind
        self.chatID = chatID
        self.userID = userID
        self.messageID = messageID
        self.languageCode = languageCode
        self.mode = mode
        self.createdAt = createdAt
        self.lastAddedAt = lastAddedAt
        self.closedAt = closedAt
    }
}

/// One stored page of a set: the document it would be on its own, and where it came from.
public struct PageSetItem: Sendable, Equatable {
    /// The stored file, not yet recorded as a document (it becomes one only if the set is kept apart).
    public var document: DocumentRecord
    public var messageID: Int64?
    /// The update it arrived in (`tg:update:N`): adding the same update twice adds one page.
    public var sourceKey: String
    public var addedAt: Timestamp

    public init(document: DocumentRecord, messageID: Int64?, sourceKey: String, addedAt: Timestamp) {
        self.document = document
        self.messageID = messageID
        self.sourceKey = sourceKey
        self.addedAt = addedAt
    }
}
