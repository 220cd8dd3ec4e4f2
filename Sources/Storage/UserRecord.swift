import Foundation
import GRDB

public enum UserRole: String, Codable, Sendable, DatabaseValueConvertible {
    case user, admin
}

/// A whitelisted Telegram user.
public struct UserRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "user"

    public var id: Int64
    public var role: UserRole
    public var addedBy: Int64?
    public var createdAt: Timestamp

    public init(id: Int64, role: UserRole, addedBy: Int64? = nil, createdAt: Timestamp = .now) {
        self.id = id
        self.role = role
        self.addedBy = addedBy
        self.createdAt = createdAt
    }
}
