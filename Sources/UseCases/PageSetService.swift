import Foundation
import Plugins
import Storage

/// Collects photos into page sets for the bot: an album (unless the chat keeps albums apart), and everything a
/// user sends between `/merge` and `/done`. `PageSetAssembler` turns a ready set into documents.
public protocol PageSetService: Sendable {
    /// Stores the file and adds it to its set; nil when it is a document on its own (no album, no `/merge`
    /// open, or a chat that keeps albums apart) and the caller submits it as usual. Throws
    /// `DocumentIntake.Refusal` for a file that cannot be taken.
    func collect(file path: String, name: String, request: JobRequest, album: String?) async throws -> CollectedPage?
    /// Opens the requester's `/merge` set (or finds the one open) and says how many pages it holds.
    func startMerge(_ requester: Requester, languageCode: String?) async throws -> MergeStart
    /// Closes the requester's open `/merge` set; its page count, or nil when none was open.
    func finishMerge(_ requester: Requester) async throws -> Int?
    func albumMode(chatID: Int64) async throws -> AlbumMode
    func setAlbumMode(_ mode: AlbumMode, for requester: Requester) async throws
}

public struct CollectedPage: Sendable, Equatable {
    public var set: PageSetRecord
    /// Pages in the set with this one.
    public var pages: Int

    public init(set: PageSetRecord, pages: Int) {
        self.set = set
        self.pages = pages
    }
}

public enum MergeStart: Sendable, Equatable {
    case started
    case alreadyOpen(pages: Int)
}

/// `PageSetService` on the store and the blob store.
public struct StorePageSetService: PageSetService {
    let store: any PageSetStore & ChatSettingsStore
    let intake: DocumentIntake

    public init(store: any PageSetStore & ChatSettingsStore, intake: DocumentIntake) {
        self.store = store
        self.intake = intake
    }

    public func collect(file path: String, name: String, request: JobRequest, album: String?) async throws -> CollectedPage? {
        guard let chat = request.chatID, let user = request.userID else { return nil }
        let now = Timestamp.now
        let set: PageSetRecord
        if let open = try await store.openMergeSet(chatID: chat, userID: user) {
            set = open
        } else if let album {
            let mode = try await store.chatSettings(chatID: chat).albums
            guard mode != .separate else { return nil }
            set = PageSetRecord(key: "album:\(chat):\(album)", kind: .album, chatID: chat, userID: user, messageID: request.messageID,
                                languageCode: request.languageCode, mode: mode, createdAt: now, lastAddedAt: now)
        } else {
            return nil
        }
        let document = try await intake.take(file: path, displayName: name)
        let item = PageSetItem(document: document, messageID: request.messageID, sourceKey: request.sourceKey ?? "page:\(document.sha256)", addedAt: now)
        let added = try await store.addPage(item, to: set, now: now)
        return CollectedPage(set: added.set, pages: added.pages)
    }

    public func startMerge(_ requester: Requester, languageCode: String?) async throws -> MergeStart {
        if let open = try await store.openMergeSet(chatID: requester.chatID, userID: requester.userID), let id = open.id {
            return .alreadyOpen(pages: try await store.pages(ofSet: id).count)
        }
        _ = try await store.openMergeSet(chatID: requester.chatID, userID: requester.userID, languageCode: languageCode, now: .now)
        return .started
    }

    public func finishMerge(_ requester: Requester) async throws -> Int? {
        guard let open = try await store.openMergeSet(chatID: requester.chatID, userID: requester.userID), let id = open.id else { return nil }
        let pages = try await store.pages(ofSet: id).count
        _ = try await store.closePageSet(id: id, now: .now)
        return pages
    }

    public func albumMode(chatID: Int64) async throws -> AlbumMode {
        try await store.chatSettings(chatID: chatID).albums
    }

    public func setAlbumMode(_ mode: AlbumMode, for requester: Requester) async throws {
        try await store.setAlbumMode(mode, chatID: requester.chatID, by: requester.userID, now: .now)
    }
}
