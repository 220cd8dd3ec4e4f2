import Foundation
import Logging
import Plugins
import ServiceLifecycle
import Storage

/// `serve --poll`: long-polls `getUpdates` and records each page durably before asking for the next.
struct PollingReceiver: Service {
    static let outage = UpdateProcessor.outage
    let inbox: any UpdateInbox
    let telegram: TelegramClient
    let arrived: Nudge
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            // A webhook and getUpdates exclude each other.
            try? await telegram.deleteWebhook()
            var offset = try await inbox.lastUpdateID().map { $0 + 1 }
            var failures = 0
            while !Task.isCancelled {
                do {
                    let updates = try await telegram.getUpdates(offset: offset, timeout: 25)
                    failures = 0
                    guard let last = updates.last else { continue }
                    _ = try await inbox.recordUpdates(updates.map { ($0.updateID, $0.chatID, $0.json) })
                    offset = last.updateID + 1
                    arrived.fire()
                } catch is CancellationError {
                    return
                } catch {
                    failures += 1
                    logger.warning("getUpdates failed", metadata: ["error": "\(error)"])
                    try await Self.outage.pause(afterAttempt: failures)
                }
            }
        }
    }
}
