import Foundation

/// What an API token may do. `read` sees its own jobs and documents; `upload` sends documents; `admin` sees
/// every token's jobs and the gateway's stats.
public enum APIScope: String, Codable, Sendable, CaseIterable, Comparable {
    case upload, read, admin

    public static func < (lhs: APIScope, rhs: APIScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// "upload,read" → the set; nil when a name is not a scope.
    public static func parse(_ list: String) -> Set<APIScope>? {
        var scopes: Set<APIScope> = []
        for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !name.isEmpty {
            guard let scope = APIScope(rawValue: name) else { return nil }
            scopes.insert(scope)
        }
        return scopes
    }

    public static func list(_ scopes: Set<APIScope>) -> String {
        scopes.sorted().map(\.rawValue).joined(separator: ",")
    }
}

/// An API token as the store keeps it: never the secret, only its SHA-256 (the secret is shown once, when made).
public struct APITokenRecord: Sendable, Equatable {
    public var id: Int64?
    /// Unique among live tokens: what `tokens revoke NAME` names.
    public var name: String
    /// Hex SHA-256 of the whole secret.
    public var tokenHash: String
    /// The secret's first characters, to tell tokens apart in `tokens list`.
    public var hint: String
    public var scopes: Set<APIScope>
    /// Requests per second this token may make (a burst of twice that); nil: the gateway's `API_RATE_LIMIT`.
    public var rateLimit: Double?
    /// Documents per UTC day; nil: the gateway's `API_DAILY_QUOTA`.
    public var dailyQuota: Int?
    public var createdAt: Timestamp
    public var revokedAt: Timestamp?
    public var lastUsedAt: Timestamp?

    public init(id: Int64? = nil, name: String, tokenHash: String, hint: String, scopes: Set<APIScope>, rateLimit: Double? = nil,
                dailyQuota: Int? = nil, createdAt: Timestamp, revokedAt: Timestamp? = nil, lastUsedAt: Timestamp? = nil) {
        self.id = id
        self.name = name
        self.tokenHash = tokenHash
        self.hint = hint
        self.scopes = scopes
        self.rateLimit = rateLimit
        self.dailyQuota = dailyQuota
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
    }

    public var isRevoked: Bool { revokedAt != nil }
}
