import BotGateway
import Foundation
import Storage
import TestSupport
import Testing

@Suite("Telegram gateway end to end", .serialized)
struct WebhookFlowTests {
    @Test("a photo gets a job-code ack, then its analysis as a reply to the message")
    func photo() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        gateway.telegram.addFile(id: "receipt", data: try GatewayHarness.fixture("receipt.jpg"))
        #expect(try await gateway.post(Updates.photo(update: 10, user: 1, message: 501, file: "receipt")) == 200)
        let arrived = await gateway.telegram.waitFor { sent in sent.contains { $0.text.contains("CORNER CAFE") || $0.text.contains("Receipt") } }
        #expect(arrived)
        let messages = gateway.telegram.messages(to: 1)
        #expect(messages.count == 2)
        #expect(messages.first?.text.contains("Job <code>") == true)
        #expect(messages.allSatisfy { $0.replyTo == 501 })
        #expect(messages.last?.text.contains("GBP 8.25") == true)
        #expect(messages.last?.text.contains("<b>Total:</b> GBP 8.25") == true)
        // Only the largest photo size is fetched.
        #expect(gateway.telegram.methodCalls.filter { $0 == "getFile" }.count == 1)
        let metrics = try await gateway.http.send(.init(url: "http://127.0.0.1:\(gateway.port)/metrics"))
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(metrics.status == 200)
        #expect(text.contains(#"botgateway_jobs{state="done"} 1"#), "\(text)")
        #expect(text.contains("botgateway_queue_depth 0"))
        #expect(text.contains(#"botgateway_step_duration_seconds_count{step="ocr",outcome="done"} 1"#) ||
                text.contains(#"botgateway_step_duration_seconds_count{outcome="done",step="ocr"} 1"#))
        #expect(text.contains(#"botgateway_jobs_finished_total{outcome="done"} 1"#))
        await gateway.stop()
    }

    @Test("the same update delivered twice makes one job and one reply")
    func duplicateUpdate() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        gateway.telegram.addFile(id: "invoice", data: try GatewayHarness.fixture("invoice.png"))
        let update = Updates.photo(update: 20, user: 1, message: 601, file: "invoice")
        #expect(try await gateway.post(update) == 200)
        #expect(try await gateway.post(update) == 200)
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("363.26") } })
        try await Task.sleep(for: .milliseconds(800))
        #expect(gateway.telegram.messages(to: 1).count == 2)
        #expect(try await gateway.database.jobCounts().values.reduce(0, +) == 1)
        await gateway.stop()
    }

    @Test("a wrong or missing secret is refused with 401 and nothing is stored; malformed JSON is 400")
    func secretAndMalformed() async throws {
        let gateway = try await GatewayHarness.start()
        #expect(try await gateway.post(Updates.text(update: 30, user: 1, message: 1, "/help"), secret: nil) == 401)
        #expect(try await gateway.post(Updates.text(update: 31, user: 1, message: 1, "/help"), secret: "wrong") == 401)
        #expect(try await gateway.post(raw: Data("{not json".utf8)) == 400)
        #expect(try await gateway.post(raw: Data(#"{"message":{}}"#.utf8)) == 400)
        // Far larger than any update: refused before it is read whole.
        #expect(try await gateway.post(raw: Data(repeating: 0x20, count: 2 << 20)) == 413)
        #expect(try await gateway.database.lastUpdateID() == nil)
        #expect(try await gateway.get("/healthz") == 200)
        #expect(try await gateway.get("/readyz") == 200)
        await gateway.stop()
    }

    @Test("a stranger gets one reply with their id, nothing is downloaded, and no second reply within the hour")
    func stranger() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        gateway.telegram.addFile(id: "x", data: try GatewayHarness.fixture("receipt.jpg"))
        try await gateway.post(Updates.photo(update: 40, user: 666, message: 1, file: "x"))
        try await gateway.post(Updates.text(update: 41, user: 666, message: 2, "hello?"))
        #expect(await gateway.telegram.waitFor { !$0.isEmpty })
        try await Task.sleep(for: .milliseconds(600))
        let replies = gateway.telegram.messages(to: 666)
        #expect(replies.count == 1)
        #expect(replies.first?.text.contains("<code>666</code>") == true)
        #expect(!gateway.telegram.methodCalls.contains("getFile"))
        await gateway.stop()
    }

    @Test("a non-admin's /allow is refused; an admin's /allow lets the user in")
    func allow() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        try await gateway.database.allow(userID: 2, role: .user, addedBy: nil)
        try await gateway.post(Updates.text(update: 50, user: 2, message: 1, "/allow 3"))
        #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 2 && $0.text == "Not allowed." } })
        #expect(try await gateway.database.user(id: 3) == nil)
        try await gateway.post(Updates.text(update: 51, user: 1, message: 2, "/allow 3"))
        #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 1 && $0.text.contains("3 may use the bot") } })
        gateway.telegram.addFile(id: "letter", data: try GatewayHarness.fixture("letter.png"))
        try await gateway.post(Updates.photo(update: 52, user: 3, message: 9, file: "letter"))
        #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 3 && $0.text.contains("Letter") } })
        await gateway.stop()
    }

    @Test("an album of three gets one acknowledgement and one consolidated reply")
    func album() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        for name in ["receipt.jpg", "invoice.png", "letter.png"] {
            gateway.telegram.addFile(id: name, data: try GatewayHarness.fixture(name))
        }
        for (index, name) in ["receipt.jpg", "invoice.png", "letter.png"].enumerated() {
            try await gateway.post(Updates.photo(update: Int64(60 + index), user: 1, message: Int64(700 + index), file: name, album: "A1"))
        }
        // The album is read before it is assembled: under the whole suite's load that took 26 s of the default 30.
        #expect(await gateway.telegram.waitFor(timeout: .seconds(120)) { $0.contains { $0.text.contains("Album of 3 documents") } })
        try await Task.sleep(for: .milliseconds(800))
        let messages = gateway.telegram.messages(to: 1)
        #expect(messages.count == 2, "\(messages.map(\.text))")
        #expect(messages.last?.text.contains("363.26") == true)
        #expect(messages.last?.text.contains("GBP 8.25") == true)
        await gateway.stop()
    }

    @Test("files over the download limit and unsupported types get a clear reply without a download")
    func refusals() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        try await gateway.post(Updates.photo(update: 70, user: 1, message: 1, file: "huge", size: 25_000_000))
        try await gateway.post(Updates.document(update: 71, user: 1, message: 2, file: "zip", name: "archive.zip", mime: "application/zip", size: 1000))
        #expect(await gateway.telegram.waitFor { $0.count >= 2 })
        let texts = gateway.telegram.messages(to: 1).map(\.text)
        #expect(texts.contains { $0.contains("25.0 MB") && $0.contains("20 MB") })
        #expect(texts.contains { $0.contains("application/zip") })
        #expect(!gateway.telegram.methodCalls.contains("getFile"))
        await gateway.stop()
    }

    @Test("a 429 from Telegram is waited out and the reply still arrives once")
    func rateLimited() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        gateway.telegram.fail("sendMessage", times: 1, code: 429, retryAfter: 1)
        try await gateway.post(Updates.text(update: 80, user: 1, message: 1, "/help"))
        #expect(await gateway.telegram.waitFor { !$0.isEmpty })
        try await Task.sleep(for: .milliseconds(500))
        let replies = gateway.telegram.messages(to: 1)
        #expect(replies.count == 1)
        #expect(replies.first?.text.contains("/status CODE") == true)
        #expect(gateway.telegram.methodCalls.filter { $0 == "sendMessage" }.count == 2)
        await gateway.stop()
    }

    @Test("a 5xx from Telegram is retried and the reply still arrives once; an edited message is ignored")
    func serverError() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        gateway.telegram.fail("sendMessage", times: 2, code: 502)
        try await gateway.post(["update_id": 85, "edited_message": ["message_id": 1, "from": Updates.user(1), "chat": ["id": 1, "type": "private"],
                                                                    "date": 1_700_000_000, "text": "/help"] as [String: Any]])
        try await gateway.post(Updates.text(update: 86, user: 1, message: 2, "/help"))
        #expect(await gateway.telegram.waitFor { !$0.isEmpty })
        try await Task.sleep(for: .milliseconds(500))
        let replies = gateway.telegram.messages(to: 1)
        #expect(replies.count == 1)
        #expect(replies.first?.replyTo == 2)
        #expect(gateway.telegram.methodCalls.filter { $0 == "sendMessage" }.count == 3)
        await gateway.stop()
    }

    @Test("/forget after the answer: the job, its text and its document are gone, and /status no longer finds it")
    func forget() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        gateway.telegram.addFile(id: "invoice", data: try GatewayHarness.fixture("invoice.png"))
        #expect(try await gateway.post(Updates.photo(update: 70, user: 1, message: 801, file: "invoice")) == 200)
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("363.26") } })
        let job = try #require(try await gateway.database.jobs(limit: 1).first)
        #expect(try await gateway.database.searchDocuments("Northwind").map(\.jobCode) == [job.code])
        #expect(try await gateway.post(Updates.text(update: 71, user: 1, message: 802, "/forget \(job.code)")) == 200)
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("is forgotten") } })
        #expect(gateway.telegram.messages(to: 1).last?.text == "Job <code>\(job.code)</code> is forgotten: its results and the document itself are deleted.")
        #expect(try await gateway.database.jobDetails(code: job.code) == nil)
        #expect(try await gateway.database.document(sha256: job.documentSHA256) == nil)
        #expect(try await gateway.database.searchDocuments("Northwind").isEmpty)
        #expect(try await gateway.post(Updates.text(update: 72, user: 1, message: 803, "/status \(job.code)")) == 200)
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text == "No job \(job.code) here." } })
        await gateway.stop()
    }

    @Test("/status, /search and /stats answer from the store")
    func commands() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        gateway.telegram.addFile(id: "bill", data: try GatewayHarness.fixture("utility-bill.pdf"))
        try await gateway.post(Updates.document(update: 90, user: 1, message: 5, file: "bill", name: "bill.pdf", mime: "application/pdf", size: 1197))
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("74.30") } })
        let code = try #require(try await gateway.database.jobs(limit: 1).first?.code)
        try await gateway.post(Updates.text(update: 91, user: 1, message: 6, "/status \(code.lowercased())"))
        try await gateway.post(Updates.text(update: 92, user: 1, message: 7, "/search kwh"))
        try await gateway.post(Updates.text(update: 93, user: 1, message: 8, "/stats"))
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("Jobs: queued") } })
        let texts = gateway.telegram.messages(to: 1).map(\.text)
        #expect(texts.contains { $0.contains("Job <code>\(code)</code> (bill.pdf): <b>done</b>") })
        #expect(texts.contains { $0.contains("bill.pdf") && $0.contains("«kWh»") })
        await gateway.stop()
    }
}

@Suite("Telegram gateway: polling and /report", .serialized)
struct PollingAndReportTests {
    @Test("serve --poll handles updates from getUpdates the same way")
    func polling() async throws {
        let gateway = try await GatewayHarness.start(admins: [1], mode: .polling)
        gateway.telegram.queueUpdate(Updates.text(update: 500, user: 1, message: 3, "/help"))
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("/report") } })
        #expect(gateway.telegram.methodCalls.contains("deleteWebhook"))
        #expect(gateway.telegram.methodCalls.contains("getUpdates"))
        #expect(try await gateway.database.lastUpdateID() == 500)
        await gateway.stop()
    }

    @Test("/report sends one Markdown report over the chat's documents")
    func report() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        gateway.telegram.addFile(id: "receipt", data: try GatewayHarness.fixture("receipt.jpg"))
        try await gateway.post(Updates.photo(update: 600, user: 1, message: 10, file: "receipt"))
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("GBP 8.25") } })
        try await gateway.post(Updates.text(update: 601, user: 1, message: 11, "/report"))
        #expect(await gateway.telegram.waitFor { $0.contains { $0.method == "sendDocument" } })
        let document = try #require(gateway.telegram.sentMessages.first { $0.method == "sendDocument" })
        #expect(document.text.contains("Report of 1 documents"))
        #expect(document.replyTo == 11)
        let reports = try FileManager.default.contentsOfDirectory(atPath: gateway.directory.appendingPathComponent("reports").path)
        #expect(reports.contains { $0.hasPrefix("chat-1-") && $0.hasSuffix(".md") })
        await gateway.stop()
    }
}
