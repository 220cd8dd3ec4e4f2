import CurlHTTP
import Foundation
import PostgresStore
import S3
import Storage
import TestSupport
import Testing

/// One gateway and several `botgateway worker` processes on one PostgreSQL and one S3 bucket, as an operator
/// scales out: the gateway takes the updates and sends the replies, the workers (each with its own data folder,
/// as on its own machine) fetch the documents from the bucket and do the OCR, analysis and archiving, and a
/// worker killed with SIGKILL mid-run loses nothing and repeats no finished step.
@Suite("serve --no-workers and botgateway worker on PostgreSQL", .serialized)
struct ScaleOutProcessTests {
    @Test("documents through a gateway and two workers on their own disks, one killed and replaced: every step once, every result once")
    func gatewayAndWorkers() async throws {
        if let reason = PostgresServer.unavailableReason {
            print("scale-out process test skipped: \(reason)")
            return
        }
        let postgres = try await PostgresServer.start()
        let databaseURL = try await postgres.freshDatabase()
        let telegram = try await FakeTelegram.start()
        let bucket = try await SeaweedFS.start()
        let s3Client = HTTPClient()
        defer { s3Client.shutdown() }
        let s3 = S3Client(configuration: S3Configuration(bucket: "scale-out", endpoint: bucket.endpoint, forcePathStyle: true,
                                                         credentials: AWSCredentials(accessKeyID: bucket.accessKey, secretAccessKey: bucket.secretKey)),
                          http: s3Client)
        try await s3.createBucket()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scale-out-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        // Each process its own data folder: nothing but the database and the bucket is shared.
        var nodes = 0
        func environment() -> [String: String] {
            nodes += 1
            return ChildProcess.environment([
                "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.baseURL, "TELEGRAM_WEBHOOK_SECRET": GatewayHarness.secret,
                "BOT_ADMIN_IDS": "1", "BOT_PORT": "0", "BOT_DATA_DIR": root.appendingPathComponent("node-\(nodes)").path, "OCR_WORKERS": "1",
                "LOG_FORMAT": "json", "LOG_LEVEL": "info", "DATABASE_URL": databaseURL,
                "BLOB_STORE": "s3", "S3_BUCKET": "scale-out", "S3_ENDPOINT": bucket.endpoint.absoluteString, "S3_FORCE_PATH_STYLE": "true",
                "S3_ACCESS_KEY_ID": bucket.accessKey, "S3_SECRET_ACCESS_KEY": bucket.secretKey,
            ])
        }
        let gateway = try await ServeProcess.start(environment: environment(), arguments: ["--no-workers"])
        // The second worker as an orchestrator sees it: health and this node's metrics on a port of its own.
        let watched = try await ServeProcess.start("worker", environment: environment(), arguments: ["--port", "0"])
        var workers = [try ChildProcess([ChildProcess.botgateway, "worker"], environment: environment()), watched.child]
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
        // The first worker dies while it holds a job (its lease names its pid); a new one takes its place and,
        // seeing that pid gone on this host, takes the job over at once.
        let watcher = try await PostgresDatabase.open(databaseURL)
        var holding = false
        for _ in 0..<600 where !holding {
            holding = try await watcher.jobs(state: .running, limit: 50).contains { $0.leaseOwner?.contains(":\(workers[0].pid):") == true }
            if !holding { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(holding, "the first worker never held a job")
        workers[0].signal(SIGKILL)
        _ = await workers[0].exit()
        workers.append(try ChildProcess([ChildProcess.botgateway, "worker"], environment: environment()))
        let done = await telegram.waitFor(timeout: .seconds(180)) { results($0).count >= count }
        #expect(done, "results: \(results(telegram.sentMessages).count) of \(count)")
        let http = HTTPClient()
        defer { http.shutdown() }
        #expect(try await http.send(HTTPClientRequest(url: "http://127.0.0.1:\(watched.port)/healthz")).status == 200)
        let metrics = String(decoding: try await http.send(HTTPClientRequest(url: "http://127.0.0.1:\(watched.port)/metrics")).body, as: UTF8.self)
        #expect(metrics.contains("botgateway_claim_duration_seconds_count{node="), "\(metrics.prefix(2000))")
        #expect(metrics.contains("botgateway_queue_depth"))
        #expect(metrics.contains("botgateway_step_duration_seconds"))
        try await Task.sleep(for: .seconds(1))
        for worker in workers.dropFirst() { worker.signal(SIGTERM) }
        for worker in workers.dropFirst() { #expect(await worker.exit() == 0) }
        #expect(await gateway.terminate() == 0)

        // Exactly one result per document, each answering its own message.
        let sent = results(telegram.messages(to: 1))
        #expect(sent.count == count)
        #expect(Set(sent.compactMap(\.replyTo)) == Set((1...count).map { Int64(100 + $0) }))
        // The audit: every job's steps completed exactly once, across the three workers; the killed worker's
        // run was abandoned and taken over.
        let store = watcher
        #expect(try await store.jobCounts(groupID: nil) == [.done: count])
        for step in ["ocr", "analyze", "archive"] {
            let runs = try await store.completedRunCounts(plugin: step)
            #expect(runs.count == count)
            #expect(runs.values.allSatisfy { $0 == 1 }, "\(step): \(runs)")
        }
        var abandoned = 0
        for job in try await store.jobs(state: .done, limit: 50) {
            abandoned += try await store.stepRuns(jobID: try #require(job.id)).filter { $0.outcome == .abandoned }.count
        }
        #expect(abandoned >= 1)
        // The documents are in the bucket once each, and the workers read them from there, not from the gateway's disk.
        let documents = try await s3.listObjects(prefix: "blobs/")
        #expect(documents.count == count, "\(documents.map(\.key))")
        var fetched = 0
        for node in 2...nodes {
            let cached = FileManager.default.enumerator(atPath: root.appendingPathComponent("node-\(node)/blobs").path)?
                .compactMap { $0 as? String }.filter { $0.count == 67 } ?? []
            #expect(cached.allSatisfy { name in documents.contains { $0.key.hasSuffix(name) } })
            fetched += cached.count
        }
        #expect(fetched >= count, "the workers fetched \(fetched) documents for \(count) jobs")
        await store.close()
        await telegram.stop()
        await bucket.stop()
        await postgres.stop()
    }

    @Test("a wrong DATABASE_URL stops serve and worker with one line naming it, exit 2, and never its password")
    func wrongDatabaseURL() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bad-url-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let cases = [
            ("mysql://gw:hunter22@127.0.0.1/db", "expected postgres://"),
            ("postgres://gw:hunter22@/db", "names no host"),
            // Nothing listens on port 1: refused at once, in the connection's words.
            ("postgres://gw:hunter22@127.0.0.1:1/db?sslmode=disable", "cannot be used"),
        ]
        for (url, reason) in cases {
            for command in [["worker"], ["serve", "--poll"]] {
                let outcome = try await ChildProcess.runOffPool([ChildProcess.botgateway] + command, environment: ChildProcess.environment([
                    "DATABASE_URL": url, "BOT_DATA_DIR": data.path, "TELEGRAM_BOT_TOKEN": "1:abc", "LOG_LEVEL": "error"]))
                let lines = outcome.standardError.split(separator: "\n")
                #expect(outcome.exitCode == 2, "\(command) \(url): \(outcome.standardError)")
                #expect(lines.count == 1 && lines[0].hasPrefix("botgateway: DATABASE_URL: ") && lines[0].contains(reason), "\(lines)")
                #expect(!(outcome.standardOutput + outcome.standardError).contains("hunter22"))
            }
        }
    }

    @Test("BLOB_STORE other than local or s3, or s3 without a bucket, stops serve and worker with one line naming it, exit 2")
    func wrongBlobStore() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bad-blobs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        for (value, reason) in [("nfs", "expected local or s3"), ("s3", "s3 needs S3_BUCKET")] {
            for command in [["worker"], ["serve", "--poll"]] {
                let outcome = try await ChildProcess.runOffPool([ChildProcess.botgateway] + command, environment: ChildProcess.environment([
                    "BLOB_STORE": value, "BOT_DATA_DIR": data.path, "TELEGRAM_BOT_TOKEN": "1:abc", "LOG_LEVEL": "error"]))
                let lines = outcome.standardError.split(separator: "\n")
                #expect(outcome.exitCode == 2, "\(command) \(value): \(outcome.standardError)")
                #expect(lines.count == 1 && lines[0].hasPrefix("botgateway: BLOB_STORE: ") && lines[0].contains(reason), "\(lines)")
            }
        }
    }
}
