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
    /// A worker as the test runs it: its process, its data folder (kept across a restart, as on one machine),
    /// and its health port when it is the one an orchestrator watches.
    struct Worker {
        var child: ChildProcess
        var node: Int
        var port: Int?
    }

    @Test("200 documents through a gateway and three workers on their own disks, a worker killed at three random moments and restarted: every step once, every result once")
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
        try await eventually { try await s3.createBucket() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scale-out-\(UUID().uuidString)")
        let chats = (1...20).map(Int64.init)
        defer { try? FileManager.default.removeItem(at: root) }
        // Each process its own data folder: nothing but the database and the bucket is shared.
        func environment(node: Int) -> [String: String] {
            ChildProcess.environment([
                "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.baseURL, "TELEGRAM_WEBHOOK_SECRET": GatewayHarness.secret,
                "BOT_ADMIN_IDS": chats.map(String.init).joined(separator: ","), "BOT_PORT": "0", "BOT_DATA_DIR": root.appendingPathComponent("node-\(node)").path, "OCR_WORKERS": "1",
                "LOG_FORMAT": "json", "LOG_LEVEL": "info", "DATABASE_URL": databaseURL,
                "BLOB_STORE": "s3", "S3_BUCKET": "scale-out", "S3_ENDPOINT": bucket.endpoint.absoluteString, "S3_FORCE_PATH_STYLE": "true",
                "S3_ACCESS_KEY_ID": bucket.accessKey, "S3_SECRET_ACCESS_KEY": bucket.secretKey,
            ])
        }
        // The first worker as an orchestrator sees it: health and this node's metrics on a port of its own.
        func startWorker(node: Int, watched: Bool) async throws -> Worker {
            if watched {
                let process = try await ServeProcess.start("worker", environment: environment(node: node), arguments: ["--port", "0"])
                return Worker(child: process.child, node: node, port: process.port)
            }
            // Several on one machine: each its own health port (the default, 8081, is one per machine).
            return Worker(child: try ChildProcess([ChildProcess.botgateway, "worker", "--port", "0"], environment: environment(node: node)), node: node)
        }
        let gateway = try await ServeProcess.start(environment: environment(node: 1), arguments: ["--no-workers"])
        var workers = [try await startWorker(node: 2, watched: true), try await startWorker(node: 3, watched: false),
                       try await startWorker(node: 4, watched: false)]

        // 200 documents from twenty people, each their own chat (Telegram allows about one message a second per
        // chat: the gateway paces its replies so); distinct bytes after the image's end make each its own document.
        let receipt = try GatewayHarness.fixture("receipt.jpg")
        let count = 200
        for index in 1...count {
            let suffix = Data(" upload \(index)".utf8)
            telegram.addFile(id: "r\(index)", data: receipt + suffix)
            let user = chats[index % chats.count]
            #expect(try await ServeProcessTests.post(Updates.document(update: Int64(index), user: user, message: Int64(1000 + index), file: "r\(index)",
                                                                      name: "receipt-\(index).jpg", mime: "image/jpeg", size: receipt.count + suffix.count),
                                                     port: gateway.port) == 200)
        }
        func results(_ messages: [FakeTelegram.Sent]) -> [FakeTelegram.Sent] {
            messages.filter { $0.text.uppercased().contains("CORNER CAFE") }
        }

        // Three random moments, counted in jobs done. At each, a worker that holds a job right now (its
        // lease names its pid) dies with SIGKILL and is started again on its own data folder; seeing that pid gone
        // on this host, the new process takes the job over at once.
        let watcher = try await PostgresDatabase.open(databaseURL)
        let moments = (0..<3).map { _ in Int.random(in: 10..<(count - 30)) }.sorted()
        print("scale-out: killing a worker after \(moments) jobs done")
        var killedHolding = 0
        // Before any kill, the watched worker's own figures: its claims, its steps, the shared queue.
        let http = HTTPClient()
        defer { http.shutdown() }
        let watchedPort = try #require(workers[0].port)
        var metrics = ""
        let counted = try await poll(timeout: .seconds(120), every: .milliseconds(500)) {
            metrics = String(decoding: try await http.send(HTTPClientRequest(url: "http://127.0.0.1:\(watchedPort)/metrics")).body, as: UTF8.self)
            return metrics.contains("botgateway_step_duration_seconds_count")
        }
        #expect(counted, "\(metrics.prefix(2000))")
        #expect(metrics.contains("botgateway_claim_duration_seconds_count{node="))
        #expect(metrics.contains("botgateway_queue_depth"))
        for moment in moments {
            var done = 0
            let reached = try await poll(timeout: .seconds(300), every: .milliseconds(50)) {
                done = try await watcher.jobCounts(groupID: nil)[.done] ?? 0
                return done >= moment
            }
            try #require(reached, "\(done) jobs done, waiting for \(moment)")
            var victim: Int?
            for _ in 0..<250 where victim == nil {
                let owners = try await watcher.jobs(state: .running, limit: 50).compactMap(\.leaseOwner)
                victim = workers.indices.shuffled().first { index in owners.contains { $0.contains(":\(workers[index].child.pid):") } }
                if victim == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            if victim != nil { killedHolding += 1 }
            let index = victim ?? Int.random(in: workers.indices)
            workers[index].child.signal(SIGKILL)
            _ = await workers[index].child.exit()
            workers[index] = try await startWorker(node: workers[index].node, watched: workers[index].port != nil)
        }
        let done = await telegram.waitFor(timeout: .seconds(600)) { results($0).count >= count }
        #expect(done, "results: \(results(telegram.sentMessages).count) of \(count)")
        #expect(killedHolding >= 1, "no worker held a job at any of the three moments")

        #expect(try await http.send(HTTPClientRequest(url: "http://127.0.0.1:\(try #require(workers[0].port))/healthz")).status == 200)
        try await Task.sleep(for: .seconds(1))
        for worker in workers { worker.child.signal(SIGTERM) }
        for worker in workers {
            let status = await worker.child.exit()
            #expect(status == 0, "worker on node \(worker.node) exited \(status): \(worker.child.standardError.suffix(1500))")
        }
        #expect(await gateway.terminate() == 0)

        // Exactly one result per document, each answering its own message in its own chat.
        for chat in chats {
            let sent = results(telegram.messages(to: chat))
            let expected = Set((1...count).filter { chats[$0 % chats.count] == chat }.map { Int64(1000 + $0) })
            #expect(sent.count == expected.count, "chat \(chat): \(sent.count) results for \(expected.count) documents")
            #expect(Set(sent.compactMap(\.replyTo)) == expected)
        }
        // The audit: every job's steps completed exactly once across the workers; each killed holder's run was
        // abandoned and taken over.
        let store = watcher
        #expect(try await store.jobCounts(groupID: nil) == [.done: count])
        for step in ["ocr", "analyze", "archive"] {
            let runs = try await store.completedRunCounts(plugin: step)
            #expect(runs.count == count, "\(step): \(runs.count) jobs ran it")
            #expect(runs.values.allSatisfy { $0 == 1 }, "\(step): \(runs.filter { $0.value != 1 })")
        }
        var abandoned = 0
        for job in try await store.jobs(state: .done, limit: count) {
            abandoned += try await store.stepRuns(jobID: try #require(job.id)).filter { $0.outcome == .abandoned }.count
        }
        #expect(abandoned >= killedHolding)
        // The documents are in the bucket once each, and the workers read them from there, not from the gateway's disk.
        let documents = try await s3.listObjects(prefix: "blobs/")
        #expect(documents.count == count)
        var fetched = 0
        for node in 2...4 {
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

    @Test("a worker whose health port is taken stops at once, naming the port and the option that changes it")
    func takenPort() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("taken-port-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        func environment(_ name: String) -> [String: String] {
            ChildProcess.environment(["BOT_DATA_DIR": root.appendingPathComponent(name).path, "OCR_WORKERS": "1", "LOG_FORMAT": "json", "LOG_LEVEL": "info"])
        }
        let first = try await ServeProcess.start("worker", environment: environment("a"), arguments: ["--port", "0"])
        let second = try await ChildProcess.runOffPool([ChildProcess.botgateway, "worker", "--port", "\(first.port)"], environment: environment("b"))
        #expect(second.exitCode == 1)
        #expect(second.standardError.contains("botgateway: the worker stopped: port \(first.port) on 127.0.0.1 is taken by another process; give this one another --port"),
                "\(second.standardError.suffix(1000))")
        #expect(await first.terminate() == 0)
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
