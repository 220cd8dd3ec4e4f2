import BotGateway
import Foundation
import Logging
import Plugins
import Storage
import Testing
import UseCases

/// The Telegram handler against fake services: what each command and message asks of the use cases and what
/// it answers, without a server, OCR or a database.
@Suite("the update handler, on fake services")
struct UpdateHandlerTests {
    let fake = FakeBotServices()
    var handler: UpdateHandler {
        UpdateHandler(services: fake.services, downloadLimit: 1_000_000, scratch: FileManager.default.temporaryDirectory.appendingPathComponent("handler-\(UUID())"),
                      logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    init() {
        fake.with { $0.roles = [1: .admin, 2: .user] }
    }

    func handle(_ update: [String: Any]) async throws -> UpdateHandler.Outcome {
        let payload = try JSONSerialization.data(withJSONObject: update)
        return try await handler.handle(TelegramUpdateRecord(updateID: update["update_id"] as! Int64, chatID: nil, payload: payload))
    }

    @Test("a stranger is told their id once, and nothing is submitted")
    func stranger() async throws {
        #expect(try await handle(Updates.text(update: 1, user: 99, message: 5, "/help")) == .handled)
        #expect(try await handle(Updates.text(update: 2, user: 99, message: 6, "/help")) == .handled)
        #expect(fake.texts.count == 1)
        #expect(fake.texts.first?.contains("<code>99</code>") == true)
        #expect(fake.with { $0.submissions.isEmpty })
    }

    @Test("/forget CODE asks the job service for the requester's own job and says what went")
    func forget() async throws {
        fake.with { $0.forgetOutcome = .forgotten(code: "K7QX2M", documentRemoved: true) }
        _ = try await handle(Updates.text(update: 1, user: 2, message: 5, "/forget k7qx2m"))
        let call = try #require(fake.with { $0.forgotten.first })
        #expect(call.code == "k7qx2m")
        #expect(call.requester == Requester(chatID: 2, userID: 2, isAdmin: false))
        #expect(fake.texts == ["Job <code>K7QX2M</code> is forgotten: its results and the document itself are deleted."])

        fake.with { $0.forgetOutcome = .notFound }
        _ = try await handle(Updates.text(update: 2, user: 2, message: 6, "/forget ZZZZZZ"))
        #expect(fake.texts.last == "No job ZZZZZZ of yours here.")
        _ = try await handle(Updates.text(update: 3, user: 2, message: 7, "/forget"))
        #expect(fake.texts.last == "Usage: /forget CODE")
        #expect(fake.with { $0.forgotten.count } == 2)
    }

    @Test("admin commands are refused to users and change nothing")
    func adminOnly() async throws {
        _ = try await handle(Updates.text(update: 1, user: 2, message: 5, "/allow 77"))
        #expect(fake.texts == ["Not allowed."])
        #expect(fake.with { $0.allowed.isEmpty })
        _ = try await handle(Updates.text(update: 2, user: 1, message: 6, "/allow 77"))
        #expect(fake.texts.last == "77 may use the bot now.")
        _ = try await handle(Updates.text(update: 3, user: 1, message: 7, "/deny 1"))
        #expect(fake.texts.last == "You can't remove yourself; another admin can.")
        _ = try await handle(Updates.text(update: 4, user: 1, message: 8, "/allow nobody"))
        #expect(fake.texts.last == "Usage: /allow USER_ID (a number)")
    }

    @Test("/status shows only the chat's own jobs to a user")
    func status() async throws {
        let mine = JobDetails(job: .fake(code: "MINE01", chatID: 2), document: DocumentRecord(sha256: "abc", format: "png", mimeType: "image/png", size: 1,
                                                                                               blobPath: "b", originalName: "scan.png"), steps: [])
        var theirs = mine
        theirs.job = .fake(code: "THEIRS", chatID: 3)
        fake.with { $0.jobs = ["MINE01": mine, "THEIRS": theirs] }
        _ = try await handle(Updates.text(update: 1, user: 2, message: 5, "/status THEIRS"))
        #expect(fake.texts.last == "No job THEIRS here.")
        _ = try await handle(Updates.text(update: 2, user: 2, message: 6, "/status MINE01"))
        #expect(fake.texts.last?.hasPrefix("Job <code>MINE01</code> (scan.png): <b>done</b>") == true)
    }

    @Test("a document is fetched and submitted with its update as the source key; handled twice, it is acknowledged once")
    func document() async throws {
        let update = Updates.document(update: 17, user: 2, message: 5, file: "f1", name: "scan.png")
        #expect(try await handle(update) == .handled)
        #expect(try await handle(update) == .handled)
        let submissions = fake.with { $0.submissions }
        // Both passes carry the same source key: that is what makes the job service return the first job
        // (`StorageTests`/`WebhookFlowTests` check it on the store); the acknowledgement's key makes it one reply.
        #expect(submissions.map(\.request.sourceKey) == ["tg:update:17", "tg:update:17"])
        #expect(submissions.first?.request.chatID == 2)
        #expect(submissions.first?.request.userID == 2)
        #expect(submissions.first?.name == "scan.png")
        #expect(fake.texts == ["Got it. Job <code>JOB1</code>: I will reply here when it is read."])
    }

    @Test("album items get one acknowledgement")
    func album() async throws {
        _ = try await handle(Updates.photo(update: 1, user: 2, message: 5, file: "p1", album: "A"))
        _ = try await handle(Updates.photo(update: 2, user: 2, message: 6, file: "p2", album: "A"))
        #expect(fake.with { $0.submissions.map(\.album) } == ["A", "A"])
        #expect(fake.texts == ["Got your album. I will answer once every photo is read: as one document when they are its pages, otherwise with one report."])
    }

    @Test("a file of the wrong type is refused before anything is fetched; an outage or a full disk waits")
    func refusalsAndOutages() async throws {
        _ = try await handle(Updates.document(update: 1, user: 2, message: 5, file: "z", name: "a.zip", mime: "application/zip", size: 100))
        #expect(fake.texts.last?.hasPrefix("I can't read a application/zip file.") == true)
        #expect(fake.with { $0.submissions.isEmpty })

        fake.with { $0.downloadError = .api(code: 502, description: "Bad Gateway") }
        guard case .retryLater = try await handle(Updates.document(update: 2, user: 2, message: 6, file: "f", name: "scan.png")) else {
            Issue.record("a Telegram outage must leave the update pending")
            return
        }
        fake.with {
            $0.downloadError = nil
            $0.submitError = DocumentIntake.Refusal.storeUnavailable(reason: "disk full")
        }
        guard case .retryLater = try await handle(Updates.document(update: 3, user: 2, message: 7, file: "f", name: "scan.png")) else {
            Issue.record("our own full disk must leave the update pending")
            return
        }
        fake.with { $0.submitError = DocumentIntake.Refusal.empty }
        #expect(try await handle(Updates.document(update: 4, user: 2, message: 8, file: "f", name: "scan.png")) == .handled)
        #expect(fake.texts.last == "I can't read that file: the file is empty.")
    }

    @Test("/report sends the written report as a document; with nothing answered it says so")
    func report() async throws {
        _ = try await handle(Updates.text(update: 1, user: 2, message: 5, "/report"))
        #expect(fake.texts == ["No finished documents here yet."])
        fake.with { $0.chatReport = WrittenReport(path: URL(fileURLWithPath: "/tmp/r.md"), documents: 3) }
        _ = try await handle(Updates.text(update: 2, user: 2, message: 6, "/report"))
        let last = try #require(fake.with { $0.replies.last })
        let payload = try JSONDecoder().decode(ReplyPayload.self, from: last.payload)
        #expect(payload.kind == .document)
        #expect(payload.path == "/tmp/r.md")
        #expect(payload.text == "Report of 3 documents")
    }

    @Test("/search names each hit with its job code; no words is a usage hint")
    func search() async throws {
        _ = try await handle(Updates.text(update: 1, user: 2, message: 5, "/search"))
        #expect(fake.texts.last == "Usage: /search WORDS")
        fake.with { $0.hits = [SearchHit(sha256: "a", name: "lease.pdf", jobCode: "AB12CD", snippet: "the «rent» is due")] }
        _ = try await handle(Updates.text(update: 2, user: 2, message: 6, "/search rent"))
        #expect(fake.texts.last == "• <b>lease.pdf</b> (<code>AB12CD</code>): the «rent» is due")
    }
}
