import Foundation
import Storage

/// One person on the list, as `/users` shows them.
public struct Member: Sendable, Equatable {
    public var id: Int64
    public var role: UserRole
    /// An admin from `BOT_ADMIN_IDS` (removed only there).
    public var configured: Bool

    public init(id: Int64, role: UserRole, configured: Bool) {
        self.id = id
        self.role = role
        self.configured = configured
    }
}

public enum AllowOutcome: Sendable, Equatable {
    case allowed
    /// Allowing an admin would demote them: nothing changed.
    case alreadyAdmin
}

public enum DenyOutcome: Sendable, Equatable {
    case removed
    case notListed
    /// Nobody removes themselves; another admin can.
    case isSelf
    /// An admin from `BOT_ADMIN_IDS`: removed only there.
    case configuredAdmin
}

/// Who may use the bot, and the rules for changing that (the same for the bot commands and any other edge).
public protocol WhitelistService: Sendable {
    /// Nil for someone not on the list.
    func role(of userID: Int64) async throws -> UserRole?
    /// True when a stranger should be told how to get in (once an hour each, not once per message).
    func shouldAnswerStranger(_ userID: Int64) async throws -> Bool
    func allow(_ userID: Int64, by admin: Int64) async throws -> AllowOutcome
    func deny(_ userID: Int64, by admin: Int64) async throws -> DenyOutcome
    /// Makes someone (on the list or not) an admin.
    func promote(_ userID: Int64, by admin: Int64) async throws -> AllowOutcome
    /// The configured admins first, then the list.
    func members() async throws -> [Member]
}

/// `WhitelistService` on the store and `BOT_ADMIN_IDS`.
public struct StoreWhitelistService: WhitelistService {
    let adminIDs: Set<Int64>
    let store: any Whitelist
    /// How often a stranger is answered at most.
    let strangerInterval: Double

    public init(adminIDs: Set<Int64>, store: any Whitelist, strangerInterval: Double = 3600) {
        self.adminIDs = adminIDs
        self.store = store
        self.strangerInterval = strangerInterval
    }

    public func role(of userID: Int64) async throws -> UserRole? {
        if adminIDs.contains(userID) { return .admin }
        return try await store.user(id: userID)?.role
    }

    public func shouldAnswerStranger(_ userID: Int64) async throws -> Bool {
        try await store.mayAnswerStranger(userID: userID, interval: strangerInterval)
    }

    public func allow(_ userID: Int64, by admin: Int64) async throws -> AllowOutcome {
        guard try await role(of: userID) != .admin else { return .alreadyAdmin }
        try await store.allow(userID: userID, role: .user, addedBy: admin)
        return .allowed
    }

    public func promote(_ userID: Int64, by admin: Int64) async throws -> AllowOutcome {
        guard try await role(of: userID) != .admin else { return .alreadyAdmin }
        try await store.allow(userID: userID, role: .admin, addedBy: admin)
        return .allowed
    }

    public func deny(_ userID: Int64, by admin: Int64) async throws -> DenyOutcome {
        if userID == admin { return .isSelf }
        if adminIDs.contains(userID) { return .configuredAdmin }
        return try await store.deny(userID: userID) ? .removed : .notListed
    }

    public func members() async throws -> [Member] {
        adminIDs.sorted().map { Member(id: $0, role: .admin, configured: true) }
            + (try await store.users()).map { Member(id: $0.id, role: $0.role, configured: false) }
    }
}
