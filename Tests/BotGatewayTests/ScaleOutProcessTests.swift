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

    /// What one scale-out run shares: PostgreSQL, a SeaweedFS bucket, the Telegram double, and a data folder per
    /// node (node 1 the gateway, the rest workers) under one root. Documents come from `chats` people, each
    /// their own chat (Telegram allows about one message a second per chat: the gateway paces its replies so).
    final class Cluster: @unchecked Sendable {
        let postgres: PostgresServer
        let databaseURL: String
        let telegram: FakeTelegram
        let bucket: SeaweedFS
        let http = HTTPClient()
        let s3: S3Client
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scale-out-\(UUID().uuidString)")
        let chats: [Int64]
        let receipt: Data

        /// Nil (and a line saying why) where PostgreSQL cannot run.
        static func start(chats: Int) async throws -> Cluster? {
            if let reason = PostgresServer.unavailableReason {
                print("scale-out process test skipped: \(reason)")
                return nil
            }
            let postgres = try await PostgresServer.start()
            return try await Cluster(postgres: postgres, databaseURL: try await postgres.freshDatabase(), telegram: try await FakeTelegram.start(),
                                     bucket: try await SeaweedFS.start(), chats: (1...chats).map(Int64.init))
        }

        private init(postgres: PostgresServer, databaseURL: String, telegram: FakeTelegram, bucket: SeaweedFS, chats: [Int64]) async throws {
            self.postgres = postgres
            self.databaseURL = databaseURL
            self.telegram = telegram
            self.bucket = bucket
            self.chats = chats
            receipt = try GatewayHarness.fixture("receipt.jpg")
            s3 = S3Client(configuration: S3Configuration(bucket: "scale-out", endpoint: bucket.endpoint, forcePathStyle: true,
                                                         credentials: AWSCredentials(accessKeyID: bucket.accessKey, secretAccessKey: bucket.secretKey)),
                          http: http)
            // SeaweedFS takes the bucket before its volume takes writes (500 until then): ready once a probe is written.
            try await eventually {
                try await self.s3.createBucket()
                try await self.s3.probe(".ready")
            }
        }

        func environment(node: Int) -> [String: String] {
            ChildProcess.environment([
                "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.baseURL, "TELEGRAM_WEBHOOK_SECRET": GatewayHarness.secret,
                "BOT_ADMIN_IDS": chats.map(String.init).joined(separator: ","), "BOT_PORT": "0",
                "BOT_DATA_DIR": root.appendingPathComponent("node-\(node)").path, "OCR_WORKERS": "1", "LOG_FORMAT": "json", "LOG_LEVEL": "info",
                "DATABASE_URL": databaseURL, "BLOB_STORE": "s3", "S3_BUCKET": "scale-out", "S3_ENDPOINT": bucket.endpoint.absoluteString,
                "S3_FORCE_PATH_STYLE": "true", "S3_ACCESS_KEY_ID": bucket.accessKey, "S3_SECRET_ACCESS_KEY": bucket.secretKey,
            ])
        }

        func startGateway() async throws -> ServeProcess {
            try await ServeProcess.start(environment: environment(node: 1), arguments: ["--no-workers"])
        }

        /// The watched worker serves its health and metrics on a port it reports; the others on any free port
        /// too (the default, 8081, is one per machine).
        func startWorker(node: Int, watched: Bool = false) async throws -> Worker {
            if watched {
                let process = try await ServeProcess.start("worker", environment: environment(node: node), arguments: ["--port", "0"])
                return Worker(child: process.child, node: node, port: process.port)
            }
            return Worker(child: try ChildProcess([ChildProcess.botgateway, "worker", "--port", "0"], environment: environment(node: node)), node: node)
        }

        func chat(of index: Int) -> Int64 { chats[index % chats.count] }

        /// Posts documents `indexes` to the gateway's webhook; distinct bytes after the image's end make each its
        /// own document.
        func post(_ indexes: ClosedRange<Int>, to gateway: ServeProcess) async throws {
            for index in indexes {
                let suffix = Data(" upload \(index)".utf8)
                telegram.addFile(id: "r\(index)", data: receipt + suffix)
                #expect(try await ServeProcessTests.post(Updates.document(update: Int64(index), user: chat(of: index), message: Int64(1000 + index),
                                                                          file: "r\(index)", name: "receipt-\(index).jpg", mime: "image/jpeg",
                                                                          size: receipt.count + suffix.count),
                                                         port: gateway.port) == 200)
            }
        }

        func results(_ messages: [FakeTelegram.Sent]) -> [FakeTelegram.Sent] {
            messages.filter { $0.text.uppercased().contains("CORNER CAFE") }
        }

        func waitForResults(_ count: Int, timeout: Duration) async -> Bool {
            await telegram.waitFor(timeout: timeout) { self.results($0).count >= count }
        }

        /// Every document answered once, in its own chat, replying to its own message; every job done with each
        /// step completed exactly once (the step-run audit); each document in the bucket once, and the workers
        /// read them from there, not from the gateway's disk.
        func audit(count: Int, store: PostgresDatabase, workerNodes: ClosedRange<Int>) async throws {
            for chat in chats {
                let sent = results(telegram.messages(to: chat))
                let expected = Set((1...count).filter { self.chat(of: $0) == chat }.map { Int64(1000 + $0) })
                #expect(sent.count == expected.count, "chat \(chat): \(sent.count) results for \(expected.count) documents")
                #expect(Set(sent.compactMap(\.replyTo)) == expected)
            }
            #expect(try await store.jobCounts(groupID: nil) == [.done: count])
            for step in ["ocr", "analyze", "archive"] {
                let runs = try await store.completedRunCounts(plugin: step)
                #expect(runs.count == count, "\(step): \(runs.count) jobs ran it")
                #expect(runs.values.allSatisfy { $0 == 1 }, "\(step): \(runs.filter { $0.value != 1 })")
            }
            // The documents and, beside them, the searchable PDFs the OCR step kept (one per document read from images).
            let documents = try await s3.listObjects(prefix: "blobs/")
            let pdfs = Set(try await store.jobDetails(since: nil).compactMap { $0.ocr?.searchablePDFSHA256 })
            #expect(documents.count == count + pdfs.count)
            #expect(pdfs.allSatisfy { sha in documents.contains { $0.key.hasSuffix(sha) } })
            var fetched = 0
            for node in workerNodes {
                let cached = FileManager.default.enumerator(atPath: root.appendingPathComponent("node-\(node)/blobs").path)?
                    .compactMap { $0 as? String }.filter { $0.count == 67 } ?? []
                #expect(cached.allSatisfy { name in documents.contains { $0.key.hasSuffix(name) } })
                fetched += cached.count
            }
            #expect(fetched >= count, "the workers fetched \(fetched) documents for \(count) jobs")
        }

        func stop() async {
            http.shutdown()
            await telegram.stop()
            await bucket.stop()
            await postgres.stop()
            try? FileManager.default.removeItem(at: root)
        }
    }

    /// SIGTERM to every worker (each hands its running steps back and exits 0), then to the gateway. One that has
    /// not exited a minute later is a failure, and is killed so the run goes on.
    static func stop(_ workers: [Worker], _ gateway: ServeProcess?) async {
        for worker in workers {
            let status = await terminate(worker.child)
            #expect(status == 0, "worker on node \(worker.node) exited \(status.map(String.init) ?? "not at all"): \(worker.child.standardError.suffix(1500))")
        }
        if let gateway {
            let status = await terminate(gateway.child)
            #expect(status == 0, "the gateway exited \(status.map(String.init) ?? "not at all"): \(gateway.child.standardError.suffix(3000))")
        }
    }

    /// The exit status after SIGTERM, or nil when the process had to be killed after a minute.
    static func terminate(_ child: ChildProcess) async -> Int32? {
        child.signal(SIGTERM)
        return await withTaskGroup(of: Int32?.self) { group in
            group.addTask { await child.exit() }
            group.addTask {
                try? await Task.sleep(for: .seconds(60))
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil { child.signal(SIGKILL) }
            group.cancelAll()
            return first
        }
    }

    @Test("200 documents through a gateway and three workers on their own disks, a worker killed at three random moments and restarted: every step once, every result once")
    func gatewayAndWorkers() async throws {
        guard let cluster = try await Cluster.start(chats: 20) else { return }
        let gateway = try await cluster.startGateway()
        var workers = [try await cluster.startWorker(node: 2, watched: true), try await cluster.startWorker(node: 3),
                       try await cluster.startWorker(node: 4)]
        let count = 200
        try await cluster.post(1...count, to: gateway)

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

        // Three random moments, counted in jobs done. At each, a worker that holds a job right now (its lease
        // names its pid) dies with SIGKILL and is started again on its own data folder; seeing that pid gone on
        // this host, the new process takes the job over at once.
        let store = try await PostgresDatabase.open(cluster.databaseURL)
        let moments = (0..<3).map { _ in Int.random(in: 10..<(count - 30)) }.sorted()
        print("scale-out: killing a worker after \(moments) jobs done")
        var killedHolding = 0
        for moment in moments {
            var done = 0
            let reached = try await poll(timeout: .seconds(300), every: .milliseconds(50)) {
                done = try await store.jobCounts(groupID: nil)[.done] ?? 0
                return done >= moment
            }
            try #require(reached, "\(done) jobs done, waiting for \(moment)")
            var victim: Int?
            for _ in 0..<250 where victim == nil {
                let owners = try await store.jobs(state: .running, limit: 50).compactMap(\.leaseOwner)
                victim = workers.indices.shuffled().first { index in owners.contains { $0.contains(":\(workers[index].child.pid):") } }
                if victim == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            if victim != nil { killedHolding += 1 }
            let index = victim ?? Int.random(in: workers.indices)
            workers[index].child.signal(SIGKILL)
            _ = await workers[index].child.exit()
            workers[index] = try await cluster.startWorker(node: workers[index].node, watched: workers[index].port != nil)
        }
        let done = await cluster.waitForResults(count, timeout: .seconds(600))
        #expect(done, "results: \(cluster.results(cluster.telegram.sentMessages).count) of \(count)")
        #expect(killedHolding >= 1, "no worker held a job at any of the three moments")
        #expect(try await http.send(HTTPClientRequest(url: "http://127.0.0.1:\(try #require(workers[0].port))/healthz")).status == 200)
        try await Task.sleep(for: .seconds(1))
        await Self.stop(workers, gateway)

        try await cluster.audit(count: count, store: store, workerNodes: 2...4)
        // Each killed holder's run was abandoned and taken over.
        var abandoned = 0
        for job in try await store.jobs(state: .done, limit: count) {
            abandoned += try await store.stepRuns(jobID: try #require(job.id)).filter { $0.outcome == .abandoned }.count
        }
        #expect(abandoned >= killedHolding)
        await store.close()
        await cluster.stop()
    }

    @Test("PostgreSQL restarted mid-run, then the bucket down for a minute: the gateway and workers reconnect, documents wait, then all complete once")
    func outages() async throws {
        guard let cluster = try await Cluster.start(chats: 10) else { return }
        let gateway = try await cluster.startGateway()
        let workers = [try await cluster.startWorker(node: 2), try await cluster.startWorker(node: 3)]
        let store = try await PostgresDatabase.open(cluster.databaseURL)

        // PostgreSQL stops (open connections cut) and comes back on the same port after a few seconds.
        try await cluster.post(1...20, to: gateway)
        #expect(try await poll(timeout: .seconds(120), every: .milliseconds(50)) { (try await store.jobCounts(groupID: nil)[.done] ?? 0) >= 5 })
        try await cluster.postgres.pause()
        try await Task.sleep(for: .seconds(3))
        try await cluster.postgres.resume()
        try await cluster.post(21...40, to: gateway)
        #expect(try await poll(timeout: .seconds(120), every: .milliseconds(100)) { (try? await store.jobCounts(groupID: nil)[.done]) ?? 0 >= 30 })

        // The bucket stops for a minute. The workers stop first (SIGTERM) and two new ones with empty disks take
        // their place during the outage, so ten documents already taken in wait for the bucket in the workers and
        // ten more wait in the gateway, which keeps their updates and takes them in once it is back.
        #expect(try await poll(timeout: .seconds(120), every: .milliseconds(100)) { try await store.jobCounts(groupID: nil) == [.done: 40] })
        await Self.stop(workers, nil)
        try await cluster.post(41...50, to: gateway)
        #expect(try await poll(timeout: .seconds(60), every: .milliseconds(100)) { try await store.jobCounts(groupID: nil)[.queued] == 10 })
        await cluster.bucket.pause()
        let paused = ContinuousClock.now
        try await cluster.post(51...60, to: gateway)
        let replacements = [try await cluster.startWorker(node: 4), try await cluster.startWorker(node: 5)]
        try await Task.sleep(until: paused + .seconds(60))
        #expect(try await store.jobCounts(groupID: nil) == [.done: 40, .queued: 10])
        var handedBack = 0
        for job in try await store.jobs(state: .queued, limit: 10) {
            handedBack += try await store.stepRuns(jobID: try #require(job.id)).filter { $0.outcome == .released }.count
            #expect(job.lastError?.contains("the job waits for it") == true, "\(job.lastError ?? "-")")
        }
        #expect(handedBack >= 10)
        try await cluster.bucket.resume()
        let done = await cluster.waitForResults(60, timeout: .seconds(300))
        let log = String(gateway.child.standardError.suffix(4000))
        #expect(done, "results: \(cluster.results(cluster.telegram.sentMessages).count) of 60; the gateway's log ends with:\n\(log)")
        #expect(try await poll(timeout: .seconds(120), every: .milliseconds(500)) { try await store.jobCounts(groupID: nil) == [.done: 60] })
        await Self.stop(replacements, gateway)

        #expect(gateway.child.standardError.contains("update will be retried"), "the gateway never waited for the bucket")
        // A reply the database could not record during its restart is kept for later, never refused for good.
        #expect(!gateway.child.standardError.contains("\"msg\":\"reply refused\""))
        try await cluster.audit(count: 60, store: store, workerNodes: 2...5)
        await store.close()
        await cluster.stop()
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
