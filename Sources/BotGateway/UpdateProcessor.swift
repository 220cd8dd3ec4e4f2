import Foundation
import Logging
import Plugins
import ServiceLifecycle
import Storage

/// Handles recorded updates: one chat's in `update_id` order, different chats at the same time (up to
/// `concurrentChats`). An update that must wait (Telegram or the disk unavailable) is postponed with backoff
/// and holds up only the later updates of its own chat.
struct UpdateProcessor: Service {
    /// While Telegram or the disk is unavailable: 0.5 s doubling up to 30 s between tries of one update.
    static let outage = RetryPolicy(maxAttempts: .max, baseDelay: 0.5, maxDelay: 30)
    static let concurrentChats = 8

    enum Lane: Hashable, Sendable {
        case chat(Int64)
        /// An update that names no chat stands alone.
        case update(Int64)
    }

    let inbox: any UpdateInbox
    let handler: UpdateHandler
    let arrived: Nudge
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await ChatLanes<Lane>(limit: Self.concurrentChats, wake: arrived).run(due: { running in
                let heads = (try? await inbox.dueUpdateHeads()) ?? []
                let lanes = heads.map { $0.chatID.map(Lane.chat) ?? .update($0.updateID) }
                if !heads.isEmpty { return (lanes.filter { !running.contains($0) }, .milliseconds(500)) }
                return ([], Self.wait(until: (try? await inbox.nextUpdateDue()) ?? nil))
            }, drain: drain)
        }
    }

    /// A chat's due updates, in order, until one must wait or none is left.
    private func drain(_ lane: Lane) async {
        while !Task.isCancelled {
            let next: TelegramUpdateRecord?
            switch lane {
            case .chat(let chat): next = try? await inbox.nextDueUpdate(chatID: chat)
            case .update(let id): next = try? await inbox.dueUpdateHeads().first { $0.updateID == id }
            }
            guard let record = next, await handle(record), case .chat = lane else { return }
        }
    }

    /// True when the update is finished with (handled, or failed for good); false when it waits.
    private func handle(_ record: TelegramUpdateRecord) async -> Bool {
        do {
            switch try await handler.handle(record) {
            case .handled:
                try await inbox.finishUpdate(id: record.updateID)
                return true
            case .retryLater(let reason):
                await postpone(record, reason: reason)
                return false
            }
        } catch is CancellationError {
            return false
        } catch let error as StorageError where error.isTransient {
            // Our own database or disk: the update is kept and tried again, never dropped.
            await postpone(record, reason: error.description)
            return false
        } catch {
            logger.error("update failed", metadata: ["update": "\(record.updateID)", "error": "\(error)"])
            try? await inbox.finishUpdate(id: record.updateID, error: "\(error)")
            return true
        }
    }

    private func postpone(_ record: TelegramUpdateRecord, reason: String) async {
        let delay = Self.outage.delay(afterAttempt: record.attempts + 1, retryAfter: nil)
        logger.warning("update will be retried", metadata: ["update": "\(record.updateID)", "in": "\(Int(delay * 1000)) ms", "reason": "\(reason)"])
        try? await inbox.postponeUpdate(id: record.updateID, until: .now + delay, reason: reason)
    }

    /// How long to sleep when nothing is due: until the next postponed item, at most a second.
    static func wait(until next: Timestamp?) -> Duration {
        let seconds = next.map { max(0.01, min(1, $0 - .now)) } ?? 1
        return .milliseconds(Int(seconds * 1000))
    }
}
