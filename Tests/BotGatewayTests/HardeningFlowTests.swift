@testable import BotGateway
import CurlHTTP
import Foundation
import OCR
import Plugins
import Storage
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// An analyser whose answer and failures the test decides; it records the file names it was given.
final class ScriptedAnalyzer: Analyzer, ReportSummarizer, @unchecked Sendable {
    let summary: String
    private let lock = NSLock()
    private var names: [String] = []

    init(summary: String = "A scripted analysis.") {
        self.summary = summary
    }

    var name: String { "scripted" }
    var fileNames: [String] { lock.withLock { names } }

    func analyze(_ input: AnalysisInput) async throws -> (Analysis, StepUsage) {
        lock.withLock { names.append(input.fileName) }
        return (Analysis(documentType: "other", title: "Scripted", summary: summary, language: "en", keyFacts: [], dates: [], amounts: [],
                         parties: [], actionItems: [], confidence: 0.5), StepUsage())
    }

    func summarize(_ request: SummaryRequest) async throws -> (String, StepUsage) {
        ("summary", StepUsage())
    }
}

/// The ways the gateway used to lose documents, leak or stall (issue 11), each with its bad input, through the
/// real webhook, pipeline and sender against a Telegram double that applies Telegram's own text rules.
@Suite("Hardening: nothing lost, nothing leaked, no chat stalls another", .serialized)
struct HardeningFlowTests {
    @Test("an analysis long in UTF-16 units but short in characters arrives, as a document")
    func utf16LongResult() async throws {
        let analyzer = ScriptedAnalyzer(summary: String(repeating: "😀", count: 3_000))
        let gateway = try await GatewayHarness.start(admins: [1], analyzer: { _ in analyzer })
        gateway.telegram.addFile(id: "receipt", data: try GatewayHarness.fixture("receipt.jpg"))
        #expect(try await gateway.post(Updates.photo(update: 1, user: 1, message: 10, file: "receipt")) == 200)
        #expect(await gateway.telegram.waitFor { $0.contains { $0.method == "sendDocument" } })
        try await Task.sleep(for: .milliseconds(300))
        let replies = try await gateway.database.replies(chatID: 1)
        #expect(replies.allSatisfy { $0.state == .sent }, "\(replies.map { ($0.dedupeKey, $0.state, $0.lastError ?? "") })")
        await gateway.stop()
    }

    @Test("a reply Telegram refuses as too long or unparsable goes out once more, plain or as a document")
    func fallbackOnRefusal() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        // Not made by Replies: an over-long message and a broken entity, as a bug elsewhere might queue them.
        let long = String(repeating: "😀 ", count: 3_000)
        try await gateway.database.enqueueReply(ReplyPayload.message(long).record(chatID: 7, dedupeKey: "test:long"))
        try await gateway.database.enqueueReply(ReplyPayload.message("Tom &am").record(chatID: 7, dedupeKey: "test:entity"))
        #expect(await gateway.telegram.waitFor { $0.filter { $0.chatID == 7 }.count == 2 })
        try await Task.sleep(for: .milliseconds(300))
        let sent = gateway.telegram.messages(to: 7)
        #expect(sent.map(\.method) == ["sendDocument", "sendMessage"])
        #expect(sent.last?.text == "Tom &am")
        #expect(try await gateway.database.replies(chatID: 7).allSatisfy { $0.state == .sent })
        await gateway.stop()
    }

    @Test("over-long command arguments get one short reply; /search with NUL answers cleanly")
    func longAndHostileCommands() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        #expect(try await gateway.post(Updates.text(update: 1, user: 1, message: 1, "/status " + String(repeating: "&", count: 5_000))) == 200)
        #expect(try await gateway.post(Updates.text(update: 2, user: 1, message: 2, "/search " + String(repeating: "😀", count: 3_000))) == 200)
        #expect(try await gateway.post(Updates.text(update: 3, user: 1, message: 3, "/search tax\u{0}es")) == 200)
        #expect(try await gateway.post(Updates.text(update: 4, user: 1, message: 4, "/search \u{0}")) == 200)
        #expect(await gateway.telegram.waitFor { $0.count >= 4 })
        try await Task.sleep(for: .milliseconds(300))
        let sent = gateway.telegram.messages(to: 1)
        #expect(sent.count == 4, "\(sent.map(\.text))")
        #expect(sent[0].text.contains("too long for /status") && sent[1].text.contains("too long for /search"))
        #expect(sent[2].text.contains("Nothing found"))
        #expect(sent[3].text.contains("Usage: /search"))
        let updates = try await gateway.database.pendingUpdates()
        #expect(updates.isEmpty)
        #expect(try await gateway.database.replies(chatID: 1).allSatisfy { $0.state == .sent })
        await gateway.stop()
    }

    @Test("file names with control and right-to-left override characters are shown clean in /status and /jobs")
    func hostileNames() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        gateway.telegram.addFile(id: "invoice", data: try GatewayHarness.fixture("invoice.png"))
        #expect(try await gateway.post(Updates.document(update: 1, user: 1, message: 1, file: "invoice", name: "invoice\u{202E}gnp.exe\nfake line.png")) == 200)
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("363.26") } })
        let code = try #require(try await gateway.database.jobs(limit: 1).first?.code)
        #expect(try await gateway.post(Updates.text(update: 2, user: 1, message: 2, "/status \(code)")) == 200)
        #expect(try await gateway.post(Updates.text(update: 3, user: 1, message: 3, "/jobs")) == 200)
        #expect(await gateway.telegram.waitFor { $0.filter { $0.text.contains(code) }.count >= 4 })
        for message in gateway.telegram.messages(to: 1) where message.text.contains("invoice") {
            #expect(!message.text.contains("\u{202E}"))
            #expect(!message.text.contains("exe\nfake"))
        }
        await gateway.stop()
    }

    @Test("two users sending the same bytes each see their own file name, in search and in the analyser's request")
    func namesBelongToUploads() async throws {
        let analyzer = ScriptedAnalyzer()
        let gateway = try await GatewayHarness.start(admins: [1], analyzer: { _ in analyzer })
        try await gateway.database.allow(userID: 2, role: .user, addedBy: 1)
        gateway.telegram.addFile(id: "a", data: try GatewayHarness.fixture("invoice.png"))
        gateway.telegram.addFile(id: "b", data: try GatewayHarness.fixture("invoice.png"))
        #expect(try await gateway.post(Updates.document(update: 1, user: 1, message: 1, file: "a", name: "alice-medical-bill.png")) == 200)
        #expect(await gateway.telegram.waitFor { $0.filter { $0.chatID == 1 }.count >= 2 })
        #expect(try await gateway.post(Updates.document(update: 2, user: 2, message: 1, file: "b", name: "bob.png")) == 200)
        #expect(await gateway.telegram.waitFor { $0.filter { $0.chatID == 2 }.count >= 2 })
        #expect(try await gateway.post(Updates.text(update: 3, user: 2, message: 2, "/search invoice")) == 200)
        #expect(await gateway.telegram.waitFor { $0.filter { $0.chatID == 2 }.count >= 3 })
        let search = try #require(gateway.telegram.messages(to: 2).last?.text)
        #expect(search.contains("bob.png"), "\(search)")
        #expect(!gateway.telegram.messages(to: 2).contains { $0.text.contains("alice") })
        #expect(analyzer.fileNames == ["alice-medical-bill.png", "bob.png"])
        await gateway.stop()
    }

    @Test("a file whose download keeps failing delays only its own chat")
    func oneChatDoesNotStallAnother() async throws {
        let gateway = try await GatewayHarness.start(admins: [1, 2])
        gateway.telegram.addFile(id: "stuck", data: try GatewayHarness.fixture("invoice.png"))
        gateway.telegram.fail("getFile", times: 1_000, code: 500)
        #expect(try await gateway.post(Updates.photo(update: 1, user: 1, message: 1, file: "stuck")) == 200)
        try await Task.sleep(for: .milliseconds(300))
        let started = ContinuousClock.now
        #expect(try await gateway.post(Updates.text(update: 2, user: 2, message: 1, "/help")) == 200)
        #expect(await gateway.telegram.waitFor(timeout: .seconds(10)) { $0.contains { $0.chatID == 2 } })
        #expect(ContinuousClock.now - started < .seconds(5))
        // The stuck update is still pending, to be tried again: never dropped.
        #expect(try await gateway.database.pendingUpdates().map(\.updateID) == [1])
        await gateway.stop()
    }

    @Test("thirty replies queued for one chat do not hold up another chat's reply")
    func busyChatDoesNotDelayAnother() async throws {
        let gateway = try await GatewayHarness.start(pacer: SendPacer(perChat: .milliseconds(300), perGroup: .seconds(1), global: .milliseconds(5)))
        for index in 0..<30 {
            try await gateway.database.enqueueReply(ReplyPayload.message("busy \(index)").record(chatID: 100, dedupeKey: "busy:\(index)"))
        }
        try await Task.sleep(for: .milliseconds(100))
        try await gateway.database.enqueueReply(ReplyPayload.message("quiet").record(chatID: 200, dedupeKey: "quiet"))
        #expect(await gateway.telegram.waitFor(timeout: .seconds(10)) { $0.contains { $0.chatID == 200 } })
        let busySent = gateway.telegram.messages(to: 100)
        #expect(busySent.count <= 10, "chat 200 waited for \(busySent.count) of chat 100's replies")
        // One chat's replies keep their order.
        #expect(await gateway.telegram.waitFor(timeout: .seconds(20)) { $0.filter { $0.chatID == 100 }.count == 30 })
        #expect(gateway.telegram.messages(to: 100).map(\.text) == (0..<30).map { "busy \($0)" })
        await gateway.stop()
    }

    @Test("a result outlives any number of failed sends during an outage, then arrives once")
    func outageDoesNotExhaustDelivery() async throws {
        let gateway = try await GatewayHarness.start(telegramRetries: 0, delivery: ReplyDelivery(maxBackoff: 0.05, horizon: 3600))
        try await Self.queueResultDuringOutage(gateway)
        try await poll(timeout: .seconds(20)) { (try await gateway.database.replies(chatID: 9).first?.attempts ?? 0) >= 30 }
        let row = try #require(try await gateway.database.replies(chatID: 9).first)
        #expect(row.attempts >= 30)
        // Still being offered (pending between tries, sending during one), never given up.
        #expect([.pending, .sending].contains(row.state))
        gateway.telegram.setUnavailable(false)
        #expect(await gateway.telegram.waitFor(timeout: .seconds(5)) { $0.contains { $0.chatID == 9 } })
        try await Task.sleep(for: .milliseconds(300))
        #expect(gateway.telegram.messages(to: 9).count == 1)
        await gateway.stop()
    }

    @Test("past the delivery horizon a reply is kept as undelivered and counted in /metrics")
    func undeliveredIsVisible() async throws {
        let gateway = try await GatewayHarness.start(telegramRetries: 0, delivery: ReplyDelivery(maxBackoff: 0.05, horizon: 0.5))
        try await Self.queueResultDuringOutage(gateway)
        try await poll(timeout: .seconds(10)) { try await gateway.database.replies(chatID: 9).first?.state == .undelivered }
        #expect(try await gateway.database.replies(chatID: 9).first?.state == .undelivered)
        // What `jobs show` reads for the job's answer.
        #expect(try await gateway.database.resultReply(jobID: 1, groupID: nil)?.state == .undelivered)
        let metrics = try await gateway.body("/metrics")
        #expect(metrics.contains(#"botgateway_replies{state="undelivered"} 1"#), "\(metrics)")
        #expect(metrics.contains("botgateway_data_free_bytes"))
        await gateway.stop()
    }

    /// Telegram goes away, then a result is queued for chat 9.
    static func queueResultDuringOutage(_ gateway: GatewayHarness) async throws {
        gateway.telegram.setUnavailable(true)
        try await gateway.database.enqueueReply(ReplyPayload.message("your result").record(chatID: 9, dedupeKey: "result:job:1"))
    }

    @Test("getFile's 'file is too big' is answered with the size limit, not an API error")
    func fileTooBig() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        gateway.telegram.addFile(id: "huge", data: Data([1]))
        gateway.telegram.fail("getFile", code: 400, description: "Bad Request: file is too big")
        // No file_size in the update (Telegram omits it at times): only getFile can tell.
        #expect(try await gateway.post(["update_id": 1, "message": ["message_id": 5, "from": Updates.user(1), "chat": ["id": 1, "type": "private"],
                                                                    "document": ["file_id": "huge", "file_unique_id": "uh", "file_name": "scan.pdf",
                                                                                 "mime_type": "application/pdf"]] as [String: Any]]) == 200)
        #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 1 } })
        let reply = try #require(gateway.telegram.messages(to: 1).first?.text)
        #expect(reply.contains("at most 20 MB"), "\(reply)")
        #expect(!reply.contains("refused the call"))
        await gateway.stop()
    }

    @Test("/allow of an admin does not demote them; an admin cannot /deny themselves or a BOT_ADMIN_IDS admin")
    func adminCommands() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        try await gateway.database.allow(userID: 5, role: .admin, addedBy: 1)
        for (index, text) in ["/allow 5", "/deny 5", "/deny 1"].enumerated() {
            #expect(try await gateway.post(Updates.text(update: Int64(index + 1), user: index == 0 ? 1 : 5, message: Int64(index + 1), text)) == 200)
            #expect(await gateway.telegram.waitFor { $0.count > index })
        }
        #expect(try await gateway.database.user(id: 5)?.role == .admin)
        let sent = gateway.telegram.sentMessages.map(\.text)
        #expect(sent[0].contains("admin already"))
        #expect(sent[1].contains("can't remove yourself"))
        #expect(sent[2].contains("BOT_ADMIN_IDS"))
        await gateway.stop()
    }

    @Test("/readyz is not ready while the data folder has less free space than the floor")
    func readinessFloor() async throws {
        let gateway = try await GatewayHarness.start(minimumFreeBytes: .max)
        #expect(try await gateway.get("/readyz") == 503)
        #expect(try await gateway.body("/readyz").contains("low disk space"))
        await gateway.stop()
    }

    /// Needs root (to mount a small tmpfs as the document store); CI runs as root.
    @Test("a full document store keeps the update and retries it once space returns; no server path reaches the user",
          .enabled(if: Tmpfs.available, "mounting a tmpfs needs root"))
    func fullDiskIsTransient() async throws {
        var store: URL?
        let gateway = try await GatewayHarness.start(admins: [1], prepare: { directory in
            store = try Tmpfs.mount(at: directory.appendingPathComponent("blobs"), size: "512k")
        })
        let folder = try #require(store)
        defer { umount(folder.path) }
        // Fill the store so the download fits in tmp/ but its copy in blobs/ does not.
        let filler = folder.appendingPathComponent("filler")
        #expect(FileManager.default.createFile(atPath: filler.path, contents: Data(repeating: 0, count: 480 * 1024)))
        let invoice = try GatewayHarness.fixture("invoice.png")
        #expect(invoice.count > 40 * 1024)
        gateway.telegram.addFile(id: "invoice", data: invoice)
        #expect(try await gateway.post(Updates.photo(update: 1, user: 1, message: 1, file: "invoice")) == 200)
        try await Task.sleep(for: .seconds(2))
        #expect(try await gateway.database.pendingUpdates().map(\.updateID) == [1])
        #expect(try await gateway.database.jobCounts().values.reduce(0, +) == 0)
        for message in gateway.telegram.messages(to: 1) {
            #expect(!message.text.contains("/"), "a reply named a path: \(message.text)")
        }
        try FileManager.default.removeItem(at: filler)
        #expect(await gateway.telegram.waitFor(timeout: .seconds(60)) { $0.contains { $0.text.contains("363.26") } })
        #expect(gateway.telegram.messages(to: 1).filter { $0.text.contains("I will reply") }.count == 1)
        await gateway.stop()
    }
}

/// A small tmpfs: a file system that really fills up (ENOSPC), for the full-disk tests.
enum Tmpfs {
    struct Unavailable: Error {}

    static let available: Bool = {
        let probe = FileManager.default.temporaryDirectory.appendingPathComponent("tmpfs-probe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: probe) }
        guard (try? mount(at: probe, size: "64k")) != nil else { return false }
        umount(probe.path)
        return true
    }()

    static func mount(at folder: URL, size: String) throws -> URL {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        guard Glibc.mount("tmpfs", folder.path, "tmpfs", 0, "size=\(size)") == 0 else { throw Unavailable() }
        return folder
    }
}
