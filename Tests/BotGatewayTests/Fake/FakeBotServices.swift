import BotGateway
import Foundation
import Storage
import UseCases

/// Every service the Telegram handler calls, in memory: answers are set by the test, calls are recorded.
/// No server, no OCR, no database.
final class FakeBotServices: JobService, ReportService, WhitelistService, SearchService, ReplyQueue, TelegramFiles, @unchecked Sendable {
    private let lock = NSLock()
    private var state = State()

    struct State {
        var roles: [Int64: UserRole] = [:]
        var strangerAnswered: Set<Int64> = []
        var replies: [OutboxRecord] = []
        var submissions: [(name: String, request: JobRequest, album: String?)] = []
        var forgotten: [(code: String, requester: Requester)] = []
        var allowed: [Int64] = []
        var jobs: [String: JobDetails] = [:]
        var forgetOutcome: ForgetOutcome = .notFound
        var submitError: (any Error)?
        var downloadError: TelegramError?
        var chatReport: WrittenReport?
        var hits: [SearchHit] = []
    }

    var services: BotServices {
        BotServices(jobs: self, reports: self, whitelist: self, search: self, replies: self, files: self)
    }

    func with<T>(_ body: (inout State) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&state)
    }

    /// The texts queued, in order.
    var texts: [String] {
        with { $0.replies.compactMap { try? JSONDecoder().decode(ReplyPayload.self, from: $0.payload).text } }
    }

    // MARK: ReplyQueue

    func enqueueReply(_ record: OutboxRecord) async throws -> Bool {
        with { state in
            guard !state.replies.contains(where: { $0.dedupeKey == record.dedupeKey }) else { return false }
            state.replies.append(record)
            return true
        }
    }

    // MARK: TelegramFiles

    func getFile(_ fileID: String) async throws -> TelegramFile {
        if let error = with({ $0.downloadError }) { throw error }
        return TelegramFile(fileID: fileID, fileSize: 10, filePath: "documents/\(fileID)")
    }

    func download(_ file: TelegramFile, to destination: String, maxBytes: Int64) async throws {
        try Data("bytes".utf8).write(to: URL(fileURLWithPath: destination))
    }

    // MARK: WhitelistService

    func role(of userID: Int64) async throws -> UserRole? { with { $0.roles[userID] } }

    func shouldAnswerStranger(_ userID: Int64) async throws -> Bool {
        with { $0.strangerAnswered.insert(userID).inserted }
    }

    func allow(_ userID: Int64, by admin: Int64) async throws -> AllowOutcome {
        with { state in
            if state.roles[userID] == .admin { return .alreadyAdmin }
            state.allowed.append(userID)
            state.roles[userID] = .user
            return .allowed
        }
    }

    func promote(_ userID: Int64, by admin: Int64) async throws -> AllowOutcome {
        with { state in
            if state.roles[userID] == .admin { return .alreadyAdmin }
            state.roles[userID] = .admin
            return .allowed
        }
    }

    func deny(_ userID: Int64, by admin: Int64) async throws -> DenyOutcome {
        if userID == admin { return .isSelf }
        return with { $0.roles.removeValue(forKey: userID) == nil ? .notListed : .removed }
    }

    func members() async throws -> [Member] {
        with { $0.roles.sorted { $0.key < $1.key }.map { Member(id: $0.key, role: $0.value, configured: false) } }
    }

    // MARK: JobService

    func submit(file path: String, name: String, request: JobRequest, album: String?) async throws -> Submission {
        if let error = with({ $0.submitError }) { throw error }
        return with { state in
            state.submissions.append((name, request, album))
            let job = JobRecord.fake(code: "JOB\(state.submissions.count)", chatID: request.chatID)
            return Submission(job: job, created: true, albumID: album.map { _ in 7 })
        }
    }

    func submit(stored document: DocumentRecord, request: JobRequest) async throws -> Submission {
        try await submit(file: document.blobPath, name: document.originalName, request: request, album: nil)
    }

    func details(code: String, for requester: Requester) async throws -> JobDetails? {
        with { state in state.jobs[code].flatMap { requester.isAdmin || $0.job.chatID == requester.chatID ? $0 : nil } }
    }

    func recent(limit: Int) async throws -> [JobRecord] { with { $0.jobs.values.map(\.job) } }

    func retry(code: String) async throws -> JobRecord {
        guard let job = with({ $0.jobs[code]?.job }) else { throw StorageError.notFound("job \(code)") }
        return job
    }

    func forget(code: String, for requester: Requester) async throws -> ForgetOutcome {
        with { state in
            state.forgotten.append((code, requester))
            return state.forgetOutcome
        }
    }

    func stats() async throws -> GatewayStats {
        GatewayStats(jobs: [.done: 2], documents: 2, users: 1, inputTokens: 0, outputTokens: 0, costUSD: 0, pendingReplies: 0, unfinishedSteps: [:])
    }

    // MARK: ReportService

    func chatReport(chatID: Int64, languageCode: String?) async throws -> WrittenReport? { with { $0.chatReport } }

    func albumReport(group: GroupRecord, jobs: [JobDetails]) async throws -> WrittenReport {
        WrittenReport(path: URL(fileURLWithPath: "/tmp/album.md"), documents: jobs.count)
    }

    func jobReport(_ details: JobDetails) throws -> URL { URL(fileURLWithPath: "/tmp/job.md") }

    // MARK: SearchService

    func search(_ words: String, for requester: Requester, limit: Int) async throws -> [SearchHit] { with { $0.hits } }
}

extension JobRecord {
    static func fake(code: String, chatID: Int64?, state: JobState = .done) -> JobRecord {
        JobRecord(id: 1, code: code, documentSHA256: "abc", request: JobRequest(origin: .telegram, sourceName: "scan.png", chatID: chatID, userID: chatID,
                                                                               messageID: 42), state: state, now: 0)
    }
}
