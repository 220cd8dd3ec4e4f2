import Foundation
import Logging
import ServiceLifecycle
import Storage
import UseCases

/// Assembles page sets that are ready (an album quiet for `albumQuiet`, a `/merge` done or quiet for
/// `mergeQuiet`) into documents, and tells the chat when pages became one document. A set whose assembly
/// fails (the store or the blob store away) is left to its lease and taken again.
struct PageSetSweeper: Service {
    let store: any PageSetStore
    let assembler: PageSetAssembler
    let replies: any ReplyQueue
    let albumQuiet: Double
    let mergeQuiet: Double
    let queued: Nudge
    let logger: Logger

    /// Long enough for the pages of an album to be read for the decision.
    static let leaseSeconds = 300.0

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await sweep()
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("could not assemble page sets", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(Int(max(0.1, min(albumQuiet / 2, 1)) * 1000)))
            }
        }
    }

    func sweep() async throws {
        let ready = try await store.claimReadyPageSets(albumQuiet: albumQuiet, mergeQuiet: mergeQuiet, leaseSeconds: Self.leaseSeconds,
                                                       limit: 8, now: .now)
        for set in ready {
            do {
                let outcome = try await assembler.assemble(set)
                if case .merged(let submission, let pages, _) = outcome {
                    let text = Replies.mergedPages(pages, code: submission.job.code)
                    try await replies.enqueueReply(ReplyPayload.message(text, replyTo: set.messageID)
                        .record(chatID: set.chatID, dedupeKey: ReplyKey.acknowledgement("pages:\(set.key)")))
                    queued.fire()
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.error("a page set waits to be assembled again", metadata: ["set": "\(set.key)", "error": "\(error)"])
            }
        }
    }
}
