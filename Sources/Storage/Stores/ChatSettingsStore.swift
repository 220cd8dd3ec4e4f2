import Foundation

/// What a chat chose for itself (`/pdf on`, `/albums`), the same on every gateway sharing the store.
public protocol ChatSettingsStore: Sendable {
    /// The chat's choices; the defaults for a chat that made none.
    func chatSettings(chatID: Int64) async throws -> ChatSettings
    func setAttachSearchablePDF(_ attach: Bool, chatID: Int64, by userID: Int64, now: Timestamp) async throws
    func setAlbumMode(_ mode: AlbumMode, chatID: Int64, by userID: Int64, now: Timestamp) async throws
}

extension ChatSettingsStore {
    public func setAttachSearchablePDF(_ attach: Bool, chatID: Int64, by userID: Int64) async throws {
        try await setAttachSearchablePDF(attach, chatID: chatID, by: userID, now: .now)
    }
}

public struct ChatSettings: Sendable, Equatable {
    /// Every result in the chat comes with the document's searchable PDF.
    public var attachSearchablePDF: Bool
    /// How the chat's albums become documents (`/albums`).
    public var albums: AlbumMode

    public init(attachSearchablePDF: Bool = false, albums: AlbumMode = .auto) {
        self.attachSearchablePDF = attachSearchablePDF
        self.albums = albums
    }
}
