import Foundation

/// Where replies are queued. A reply's `dedupeKey` names the event it answers (`ReplyKey`): queueing the
/// same key again does nothing, so an update handled twice never answers twice.
public protocol ReplyQueue: Sendable {
    /// True when queued now, false when a reply with the same key exists.
    @discardableResult
    func enqueueReply(_ record: OutboxRecord) async throws -> Bool
}

/// The outbox as the sender and the sweeper see it.
///
/// - **Sending.** One sender at a time per reply: `beginSending` claims it just before the call to Telegram
///   (false when another sender has it), `markReplySent` after Telegram accepted it. A chat's replies go out oldest first; a chat whose oldest
///   reply waits (rate limit, outage) is not due, and no other chat waits for it.
/// - **"Sent"** means Telegram answered `ok`. A reply caught between `beginSending` and an answer (a crash) is
///   sent again if it carries something asked for, and dropped if it is an acknowledgement
///   (`recoverInterruptedReplies`): a duplicate beats a lost answer, a repeated "got it" is noise. A store one
///   process owns recovers every interrupted reply at start; a shared store (`isShared`) only those whose send
///   began longer ago than any send lasts, since another gateway may be sending the rest.
/// - **Telling.** A job's (or an album's) result reply is queued in the same transaction that marks it told
///   (`notify`), so each result is queued exactly once.
public protocol ReplyOutbox: ReplyQueue {
    /// Chats whose oldest unsent reply is due now.
    func chatsWithDueReplies(limit: Int, now: Timestamp) async throws -> [Int64]
    func nextDueReply(chatID: Int64, now: Timestamp) async throws -> OutboxRecord?
    /// True when other processes may send from the same outbox at the same time.
    var isShared: Bool { get }
    /// Claims a due reply for this sender; false when another sender took it first.
    func beginSending(id: Int64, now: Timestamp) async throws -> Bool
    /// Replies left mid-send by a sender that is gone: those whose send began more than `olderThan` seconds ago
    /// (all of them with 0, which only the store's one owner may ask at start).
    func recoverInterruptedReplies(olderThan: Double, now: Timestamp) async throws -> (resent: Int, dropped: Int)
    func markReplySent(id: Int64, now: Timestamp) async throws
    /// Tried again at `retryAt`, or ended in `final`.
    func markReplyFailed(id: Int64, error: String, retryAt: Timestamp?, final: OutboxState) async throws
    func nextReplyDue() async throws -> Timestamp?
    /// Telegram jobs not yet told whose answer is ready (`answerStep` done, or the job finished), outside albums.
    func unnotifiedJobs(answerStep: String, limit: Int) async throws -> [JobDetails]
    /// Queues the job's result (and what goes with it: its searchable PDF when the chat asked for them), in order.
    func notify(jobID: Int64, replies: [OutboxRecord], now: Timestamp) async throws
    /// Albums whose every job is answered and to which nothing was added for `quiet` seconds.
    func completedAlbums(quiet: Double, answerStep: String, now: Timestamp) async throws -> [(group: GroupRecord, jobs: [JobDetails])]
    func notify(groupID: Int64, replies: [OutboxRecord], now: Timestamp) async throws
    /// Replies by state, for `/metrics`.
    func replyCounts() async throws -> [OutboxState: Int]
    /// The reply that carries a job's result (its own, or its album's), once one is queued.
    func resultReply(jobID: Int64, groupID: Int64?) async throws -> OutboxRecord?
}

extension ReplyOutbox {
    public func chatsWithDueReplies() async throws -> [Int64] {
        try await chatsWithDueReplies(limit: 200, now: .now)
    }

    public func nextDueReply(chatID: Int64) async throws -> OutboxRecord? {
        try await nextDueReply(chatID: chatID, now: .now)
    }

    public func markReplySent(id: Int64) async throws {
        try await markReplySent(id: id, now: .now)
    }

    @discardableResult
    public func beginSending(id: Int64) async throws -> Bool {
        try await beginSending(id: id, now: .now)
    }

    public func recoverInterruptedReplies() async throws -> (resent: Int, dropped: Int) {
        try await recoverInterruptedReplies(olderThan: 0, now: .now)
    }

    public func markReplyFailed(id: Int64, error: String, retryAt: Timestamp?) async throws {
        try await markReplyFailed(id: id, error: error, retryAt: retryAt, final: .failed)
    }

    public func unnotifiedJobs(answerStep: String) async throws -> [JobDetails] {
        try await unnotifiedJobs(answerStep: answerStep, limit: 20)
    }

    public func notify(jobID: Int64, reply: OutboxRecord, now: Timestamp = .now) async throws {
        try await notify(jobID: jobID, replies: [reply], now: now)
    }

    public func completedAlbums(quiet: Double, answerStep: String) async throws -> [(group: GroupRecord, jobs: [JobDetails])] {
        try await completedAlbums(quiet: quiet, answerStep: answerStep, now: .now)
    }

    public func notify(groupID: Int64, reply: OutboxRecord, now: Timestamp = .now) async throws {
        try await notify(groupID: groupID, replies: [reply], now: now)
    }
}

/// The outbox keys: one reply per event. Made here, next to the store that reads them back.
public enum ReplyKey {
    /// The result of one job.
    public static func result(jobID: Int64) -> String { "result:job:\(jobID)" }
    /// The one result of a whole album.
    public static func result(albumID: Int64) -> String { "result:album:\(albumID)" }
    /// A job's searchable PDF, sent after its result when the chat asked for them (`/pdf on`).
    public static func searchablePDF(jobID: Int64) -> String { "pdf:job:\(jobID)" }
    /// "Got it": not repeated after a crash.
    public static func acknowledgement(_ event: String) -> String { "ack:\(event)" }
    /// "Send me a document": not repeated after a crash.
    public static func hint(_ event: String) -> String { "hint:\(event)" }
    /// A stranger's one reply an hour: not repeated after a crash.
    public static func stranger(_ event: String) -> String { "stranger:\(event)" }
    /// "I can't take that file".
    public static func refusal(_ event: String) -> String { "refused:\(event)" }
    /// Part `index` of a command's answer.
    public static func command(_ event: String, part index: Int) -> String { "command:\(event):\(index)" }
    /// Prefixes of replies that are noise when repeated.
    public static let notRepeated = ["ack:", "hint:", "stranger:"]
}
