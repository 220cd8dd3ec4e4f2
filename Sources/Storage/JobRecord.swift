import Foundation
import GRDB

public enum JobState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case queued, running, done, failed

    public var isTerminal: Bool { self == .done || self == .failed }
}

public enum JobOrigin: String, Codable, Sendable, DatabaseValueConvertible {
    case batch, telegram, api
}

/// One document going through the pipeline on behalf of one requester.
public struct JobRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "job"

    public var id: Int64?
    /// Short code shown to people (`/status K7QX2M`).
    public var code: String
    public var documentSHA256: String
    public var origin: JobOrigin
    public var sourceName: String
    public var groupID: Int64?
    public var chatID: Int64?
    public var userID: Int64?
    public var messageID: Int64?
    public var languageCode: String?
    public var state: JobState
    public var nextAttemptAt: Timestamp
    public var leaseOwner: String?
    public var leaseExpiresAt: Timestamp?
    /// The fencing token: raised by every claim, so a worker whose lease was taken over holds an old one and
    /// can record nothing for the job, even if its own name comes round again.
    public var leaseToken: Int64
    public var lastError: String?
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    public var finishedAt: Timestamp?
    public var sourceKey: String?
    public var notifiedAt: Timestamp?
    /// The API token that uploaded it (`origin == .api`): only that token (or an admin one) sees it.
    public var tokenID: Int64?
    /// Where the API posts the result when the job is over.
    public var callbackURL: String?

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let code = Column(CodingKeys.code)
        public static let documentSHA256 = Column(CodingKeys.documentSHA256)
        public static let groupID = Column(CodingKeys.groupID)
        public static let chatID = Column(CodingKeys.chatID)
        public static let state = Column(CodingKeys.state)
        public static let nextAttemptAt = Column(CodingKeys.nextAttemptAt)
        public static let leaseOwner = Column(CodingKeys.leaseOwner)
        public static let leaseExpiresAt = Column(CodingKeys.leaseExpiresAt)
        public static let createdAt = Column(CodingKeys.createdAt)
        public static let tokenID = Column(CodingKeys.tokenID)
    }

    /// Every column, as a store reads it back.
    public init(id: Int64?, code: String, documentSHA256: String, origin: JobOrigin, sourceName: String, groupID: Int64?,
                chatID: Int64?, userID: Int64?, messageID: Int64?, languageCode: String?, state: JobState,
                nextAttemptAt: Timestamp, leaseOwner: String?, leaseExpiresAt: Timestamp?, leaseToken: Int64,
                lastError: String?, createdAt: Timestamp, updatedAt: Timestamp, finishedAt: Timestamp?, sourceKey: String?,
                notifiedAt: Timestamp?, tokenID: Int64? = nil, callbackURL: String? = nil) {
        self.id = id
        self.code = code
        self.documentSHA256 = documentSHA256
        self.origin = origin
        self.sourceName = sourceName
        self.groupID = groupID
        self.chatID = chatID
        self.userID = userID
        self.messageID = messageID
        self.languageCode = languageCode
        self.state = state
        self.nextAttemptAt = nextAttemptAt
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.leaseToken = leaseToken
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.finishedAt = finishedAt
        self.sourceKey = sourceKey
        self.notifiedAt = notifiedAt
        self.tokenID = tokenID
        self.callbackURL = callbackURL
    }
}

extension JobRecord {
    public init(row: Row) throws {
        id = row["id"]
        code = row["code"]
        documentSHA256 = row["documentSHA256"]
        origin = row["origin"]
        sourceName = row["sourceName"]
        groupID = row["groupID"]
        chatID = row["chatID"]
        userID = row["userID"]
        messageID = row["messageID"]
        languageCode = row["languageCode"]
        state = row["state"]
        nextAttemptAt = row["nextAttemptAt"]
        leaseOwner = row["leaseOwner"]
        leaseExpiresAt = row["leaseExpiresAt"]
        leaseToken = row["leaseToken"] ?? 0
        lastError = row["lastError"]
        createdAt = row["createdAt"]
        updatedAt = row["updatedAt"]
        finishedAt = row["finishedAt"]
        sourceKey = row["sourceKey"]
        notifiedAt = row["notifiedAt"]
        tokenID = row["tokenID"]
        callbackURL = row["callbackURL"]
    }
}

/// Who asked for a job and where the answer goes.
public struct JobRequest: Sendable, Equatable {
    public var origin: JobOrigin
    public var sourceName: String
    public var groupID: Int64?
    public var chatID: Int64?
    public var userID: Int64?
    public var messageID: Int64?
    public var languageCode: String?
    /// What made the job; a second request with the same key returns the first job.
    public var sourceKey: String?
    /// The API token that asked, and where to post the result.
    public var tokenID: Int64?
    public var callbackURL: String?

    public init(origin: JobOrigin, sourceName: String, groupID: Int64? = nil, chatID: Int64? = nil, userID: Int64? = nil,
                messageID: Int64? = nil, languageCode: String? = nil, sourceKey: String? = nil, tokenID: Int64? = nil, callbackURL: String? = nil) {
        self.origin = origin
        self.sourceName = sourceName
        self.groupID = groupID
        self.chatID = chatID
        self.userID = userID
        self.messageID = messageID
        self.languageCode = languageCode
        self.sourceKey = sourceKey
        self.tokenID = tokenID
        self.callbackURL = callbackURL
    }
}

extension JobRecord {
    /// A new job for `request`, queued (due at once) unless another state is given.
    public init(id: Int64?, code: String, documentSHA256: String, request: JobRequest, state: JobState = .queued, now: Timestamp) {
        self.init(id: id, code: code, documentSHA256: documentSHA256, origin: request.origin, sourceName: request.sourceName, groupID: request.groupID,
                  chatID: request.chatID, userID: request.userID, messageID: request.messageID, languageCode: request.languageCode, state: state,
                  nextAttemptAt: now, leaseOwner: nil, leaseExpiresAt: nil, leaseToken: 0, lastError: nil, createdAt: now, updatedAt: now, finishedAt: nil,
                  sourceKey: request.sourceKey, notifiedAt: nil, tokenID: request.tokenID, callbackURL: request.callbackURL)
    }
}
