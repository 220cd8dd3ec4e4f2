import Foundation

/// Who may use the bot (besides the admins from `BOT_ADMIN_IDS`), and who was told they may not.
public protocol Whitelist: Sendable {
    func users() async throws -> [UserRecord]
    func user(id: Int64) async throws -> UserRecord?
    func allow(userID: Int64, role: UserRole, addedBy: Int64?, now: Timestamp) async throws
    /// False when the user was not on the list.
    func deny(userID: Int64) async throws -> Bool
    /// True (and remembered) when a stranger may be answered now: once per `interval` seconds.
    func mayAnswerStranger(userID: Int64, interval: Double, now: Timestamp) async throws -> Bool
}

extension Whitelist {
    public func allow(userID: Int64, role: UserRole, addedBy: Int64?) async throws {
        try await allow(userID: userID, role: role, addedBy: addedBy, now: .now)
    }

    public func mayAnswerStranger(userID: Int64, interval: Double) async throws -> Bool {
        try await mayAnswerStranger(userID: userID, interval: interval, now: .now)
    }
}
