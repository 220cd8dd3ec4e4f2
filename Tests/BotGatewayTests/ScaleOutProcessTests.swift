import Foundation
import PostgresStore
import Storage
import TestSupport
import Testing

/// One gateway and several `botgateway worker` processes on one PostgreSQL, as an operator scales out: the
/// gateway takes the updates and sends the replies, the workers do the OCR and analysis, and a worker killed
/// with SIGKILL mid-run loses nothing and repeats no finished step.
@Suite("serve --no-workers and botgateway worker on PostgreSQL", .serialized)
struct ScaleOutProcessTests {
    @Test("documents through a gateway and two workers, one killed and replaced: every step once, every result once")
    func gatewayAndWorkers() async throws {
        if let reason = PostgresServer.unavailableReason {
            print("scale-out process test skipped: \(reason)")
            return
        }
        let postgres = try await PostgresServer.start()
        let databaseURL = try await postgres.freshDatabase()
        let telegram = try await FakeTelegram.start()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("scale-out-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let environment = ChildProcess.environment([
            "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.baseURL, "TELEGRAM_WEBHOOK_SECRET": GatewayHarness.secret,
            "BOT_ADMIN_IDS": "1", "BOT_PORT": "0", "BOT_DATA_DIR": data.path, "OCR_WORKERS": "1", "LOG_FORMAT": "json", "LOG_LEVEL": "info",
            "DATABASE_URL": databaseURL,
        ])
        let gateway = try await ServeProcess.start(environment: environment, arguments: ["--no-workers"])
        var workers = [try ChildProcess([ChildProcess.botgateway, "worker"], environment: environment),
                       try ChildProcess([ChildProcess.botgateway, "worker"], environment: environment)]
        let receipt = try GatewayHarness.fixture("receipt.jpg")
        let count = 6
        for index in 1...count {
            // Distinct bytes after the image's end: each upload is its own document.
            telegram.addFile(id: "r\(index)", data: receipt + Data("upload \(index)".utf8))
            #expect(try await ServeProcessTests.post(Updates.document(update: Int64(index), user: 1, message: Int64(100 + index), file: "r\(index)",
                                                                      name: "receipt-\(index).jpg", mime: "image/jpeg", size: receipt.count + 9),
                                                     port: gateway.port) == 200)
        }
        func results(_ messages: [FakeTelegram.Sent]) -> [FakeTelegram.Sent] {
            messages.filter { $0.text.uppercased().contains("CORNER CAFE") }
        }
        // One worker dies mid-run, another takes its place; its claimed job is taken over after the lease.
        #expect(await telegram.waitFor(timeout: .seconds(60)) { !results($0).isEmpty })
        workers[0].signal(SIGKILL)
        _ = await Self.wait(workers[0])
        workers.append(try ChildProcess([ChildProcess.botgateway, "worker"], environment: environment))
        let done = await telegram.waitFor(timeout: .seconds(180)) { results($0).count >= count }
        #expect(done, "results: \(results(telegram.sentMessages).count) of \(count)")
        try await Task.sleep(for: .seconds(1))
        for worker in workers.dropFirst() { worker.signal(SIGTERM) }
        for worker in workers.dropFirst() { #expect(await Self.wait(worker) == 0) }
        #expect(await gateway.terminate() == 0)

        // Exactly one result per document, each answering its own message.
        let sent = results(telegram.messages(to: 1))
        #expect(sent.count == count)
        #expect(Set(sent.compactMap(\.replyTo)) == Set((1...count).map { Int64(100 + $0) }))
        // The audit: every job's steps completed exactly once, across the three workers.
        let store = try await PostgresDatabase.open(databaseURL)
        #expect(try await store.jobCounts(groupID: nil) == [.done: count])
        for step in ["ocr", "analyze"] {
            let runs = try await store.completedRunCounts(plugin: step)
            #expect(runs.count == count)
            #expect(runs.values.allSatisfy { $0 == 1 }, "\(step): \(runs)")
        }
        await store.close()
        await telegram.stop()
        await postgres.stop()
    }

    /// A child's exit code, waited for on a Dispatch thread (the concurrency threads serve the doubles).
    static func wait(_ child: ChildProcess) async -> Int32 {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: child.wait()) }
        }
    }
}
