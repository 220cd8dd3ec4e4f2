import Crypto
import Foundation
import Storage

/// A token as made: the record kept, and the secret shown once and never stored.
public struct IssuedToken: Sendable, Equatable {
    public var record: APITokenRecord
    public var secret: String
}

/// API tokens: made and revoked by an admin (`botgateway tokens`), checked on every API request. Only a
/// SHA-256 of each secret is kept, so the database never holds a usable token.
public struct APITokenService: Sendable {
    /// What every secret starts with, so a leaked one is recognisable (and found by secret scanners).
    public static let prefix = "bgw_"

    let store: any APIStore

    public init(store: any APIStore) {
        self.store = store
    }

    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case badName(String)
        case noScope
        case badLimit(String)

        public var description: String {
            switch self {
            case .badName(let name): "\"\(name)\" is not a token name: use 1 to 64 letters, digits, '.', '_' or '-'"
            case .noScope: "a token needs at least one scope (upload, read, admin)"
            case .badLimit(let why): why
            }
        }
    }

    public func create(name: String, scopes: Set<APIScope>, rateLimit: Double? = nil, dailyQuota: Int? = nil, now: Timestamp = .now) async throws -> IssuedToken {
        guard (1...64).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw Refusal.badName(name)
        }
        guard !scopes.isEmpty else { throw Refusal.noScope }
        if let rateLimit, !(rateLimit > 0 && rateLimit <= 100_000) { throw Refusal.badLimit("the rate limit must be between 0 and 100000 requests per second") }
        if let dailyQuota, dailyQuota < 0 { throw Refusal.badLimit("the daily quota cannot be negative") }
        let secret = Self.prefix + Secrets.random()
        let record = APITokenRecord(name: name, tokenHash: Self.hash(secret), hint: String(secret.prefix(Self.prefix.count + 4)), scopes: scopes,
                                    rateLimit: rateLimit, dailyQuota: dailyQuota, createdAt: now)
        return IssuedToken(record: try await store.createToken(record), secret: secret)
    }

    public func list() async throws -> [APITokenRecord] {
        try await store.apiTokens()
    }

    public func revoke(name: String) async throws -> Bool {
        try await store.revokeToken(name: name)
    }

    /// The live token whose secret this is; nil for an unknown or revoked one.
    public func authenticate(_ secret: String) async throws -> APITokenRecord? {
        guard secret.hasPrefix(Self.prefix), secret.count < 200 else { return nil }
        guard let token = try await store.apiToken(hash: Self.hash(secret)), !token.isRevoked else { return nil }
        return token
    }

    /// Records that the token was used (for `tokens list`).
    public func touch(id: Int64, now: Timestamp) async throws {
        try await store.touchToken(id: id, now: now)
    }

    public static func hash(_ secret: String) -> String {
        Secrets.hash(secret)
    }
}
