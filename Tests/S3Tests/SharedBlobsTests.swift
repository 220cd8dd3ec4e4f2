import CurlHTTP
import Foundation
import Plugins
import S3
import Storage
import TestSupport
import Testing

/// `BLOB_STORE=s3`: the blob store of every node writes through to one bucket and reads from it what its own
/// disk lacks, against a real S3-compatible server (SeaweedFS on loopback).
@Suite("documents in S3, read by every node", .serialized)
struct SharedBlobsTests {
    struct Nodes {
        let server: SeaweedFS
        let client: S3Client
        let remote: S3Blobs
        let gateway: BlobStore
        let worker: BlobStore
        let folders: [URL]

        func object(_ sha256: String) -> String { client.key("blobs/\(sha256.prefix(2))/\(sha256)") }
    }

    /// A gateway and a worker with their own data folders (two machines) sharing one bucket.
    func withNodes(_ body: (Nodes) async throws -> Void) async throws {
        let server = try await SeaweedFS.start()
        let http = HTTPClient()
        let client = S3Client(configuration: S3Configuration(
            bucket: "shared-blobs", endpoint: server.endpoint, prefix: "gw/", forcePathStyle: true,
            credentials: AWSCredentials(accessKeyID: server.accessKey, secretAccessKey: server.secretKey)), http: http)
        let folders = (0..<2).map { FileManager.default.temporaryDirectory.appendingPathComponent("node-\($0)-\(UUID().uuidString)") }
        defer {
            http.shutdown()
            for folder in folders { try? FileManager.default.removeItem(at: folder) }
        }
        do {
            // SeaweedFS takes the bucket before its volume takes writes (500 until then): ready once a probe is written.
            try await eventually {
                try await client.createBucket()
                try await client.probe(".ready")
            }
            let remote = S3Blobs(client: client)
            try await body(Nodes(server: server, client: client, remote: remote, gateway: try BlobStore(dataDirectory: folders[0], remote: remote),
                                 worker: try BlobStore(dataDirectory: folders[1], remote: remote), folders: folders))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func document(_ seed: Int) -> Data {
        // A PNG signature and distinct bytes: enough for the intake's format check.
        Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + Data((0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) })
    }

    @Test("a document taken in on the gateway is in the bucket before intake returns, and a worker without it reads the same bytes")
    func writeOnceReadAnywhere() async throws {
        try await withNodes { nodes in
            let bytes = document(1)
            let record = try await DocumentIntake(blobs: nodes.gateway).take(data: bytes, displayName: "scan.png")
            let info = try #require(try await nodes.client.headObject(nodes.object(record.sha256)))
            #expect(info.size == Int64(bytes.count))
            #expect(info.metadata["sha256"] == record.sha256)

            let path = try await nodes.worker.checkout(record)
            #expect(path.hasPrefix(nodes.folders[1].path))
            #expect(FileManager.default.contents(atPath: path) == bytes)
            // Fetched once: with the bucket's copy gone the worker still reads its own.
            try await nodes.client.deleteObject(nodes.object(record.sha256))
            #expect(try await nodes.worker.checkout(record) == path)
            // The same content again: one object, uploaded again only because it went missing.
            _ = try await DocumentIntake(blobs: nodes.gateway).take(data: bytes, displayName: "again.png")
            #expect(try await nodes.client.headObject(nodes.object(record.sha256)) != nil)
        }
    }

    @Test("a document altered in the bucket is refused, a missing one is not found, one over the cap is refused; no temporary file stays")
    func badObjects() async throws {
        try await withNodes { nodes in
            let record = try await DocumentIntake(blobs: nodes.gateway).take(data: document(2), displayName: "a.png")
            try await nodes.client.putObject(nodes.object(record.sha256), data: document(3), contentType: "image/png")
            await #expect { try await nodes.worker.checkout(record) } throws: { error in
                guard case StorageError.blobUnavailable(_, let reason) = error else { return false }
                return reason.contains("other content")
            }
            await #expect(throws: StorageError.invalid("the document is larger than 1000 bytes")) {
                try await nodes.worker.checkout(record, maxBytes: 1000)
            }
            try await nodes.client.deleteObject(nodes.object(record.sha256))
            await #expect { try await nodes.worker.checkout(record) } throws: { error in
                guard case StorageError.notFound = error else { return false }
                return !(error as! StorageError).isTransient
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: nodes.folders[1].appendingPathComponent("blobs/tmp").path)
            #expect(leftovers.isEmpty, "\(leftovers)")
            #expect(!FileManager.default.fileExists(atPath: nodes.worker.absolutePath(record.blobPath)))
        }
    }

    @Test("forgetting removes the bucket's copy; the cache keeps what was read lately and drops the rest")
    func forgetAndTrim() async throws {
        try await withNodes { nodes in
            let kept = try await DocumentIntake(blobs: nodes.gateway).take(data: document(4), displayName: "kept.png")
            let stale = try await DocumentIntake(blobs: nodes.gateway).take(data: document(5), displayName: "stale.png")
            let old = Date().addingTimeInterval(-2 * BlobStore.cacheLifetime)
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: nodes.gateway.absolutePath(stale.blobPath))
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: nodes.gateway.absolutePath(kept.blobPath))
            // Reading marks a copy as used.
            _ = try await nodes.gateway.checkout(kept)
            #expect(nodes.gateway.trimCache() == 1)
            #expect(FileManager.default.fileExists(atPath: nodes.gateway.absolutePath(kept.blobPath)))
            #expect(!FileManager.default.fileExists(atPath: nodes.gateway.absolutePath(stale.blobPath)))
            // The trimmed copy comes back from the bucket.
            #expect(FileManager.default.contents(atPath: try await nodes.gateway.checkout(stale)) == document(5))

            try await nodes.gateway.forget(kept)
            #expect(try await nodes.client.headObject(nodes.object(kept.sha256)) == nil)
            #expect(!FileManager.default.fileExists(atPath: nodes.gateway.absolutePath(kept.blobPath)))
            // Without a bucket the disk holds the documents themselves: never trimmed.
            let local = try BlobStore(dataDirectory: nodes.folders[0])
            #expect(local.trimCache(olderThan: 0) == 0)
        }
    }

    @Test("with the bucket down the intake refuses for now (our store, not the file) and the doctor's probe fails")
    func bucketDown() async throws {
        try await withNodes { nodes in
            try await nodes.remote.check()
            await nodes.server.stop()
            do {
                _ = try await DocumentIntake(blobs: nodes.gateway).take(data: document(6), displayName: "late.png")
                Issue.record("a document was taken in with its store down")
            } catch let error as DocumentIntake.Refusal {
                guard case .storeUnavailable(let reason) = error else {
                    Issue.record("refused as \(error)")
                    return
                }
                #expect(reason.contains("S3 unreachable"), "\(reason)")
                #expect(!reason.contains(nodes.server.secretKey))
            }
            await #expect { try await nodes.remote.check() } throws: { error in
                (error as? StorageError)?.isTransient == true
            }
        }
    }

    /// Reads the job's document and answers with its size: a step that needs the bytes.
    struct MeasurePlugin: Plugin {
        var name: String { "measure" }

        func run(_ context: PluginContext) async throws -> PluginResult {
            let size = try FileManager.default.attributesOfItem(atPath: context.documentPath)[.size] as? Int ?? -1
            return PluginResult(output: Data("\(size)".utf8))
        }
    }

    @Test("with the bucket down a worker's job waits without spending its step's attempts, says why, and completes once the bucket is back")
    func workerWaitsForBucket() async throws {
        try await withNodes { nodes in
            let bytes = document(7)
            let record = try await DocumentIntake(blobs: nodes.gateway).take(data: bytes, displayName: "wait.png")
            let database = try AppDatabase(path: nodes.folders[1].appendingPathComponent("state.sqlite").path)
            _ = try await database.saveDocument(record)
            let job = try await database.enqueue(documentSHA256: record.sha256, request: JobRequest(origin: .batch, sourceName: "wait.png"),
                                                 steps: ["measure"]).job
            await nodes.server.pause()
            // Three attempts a few milliseconds apart would fail the job within the outage if they counted.
            let settings = Pipeline.Settings(retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.01, maxDelay: 0.05), leaseSeconds: 30, pollInterval: 0.05)
            let pipeline = Pipeline(queue: database, blobs: nodes.worker, steps: StepCatalog([MeasurePlugin()]), settings: settings)
            let worker = Task { await pipeline.run(workers: 1, untilIdle: true) }
            defer { worker.cancel() }
            let waited = try await poll(timeout: .seconds(30), every: .milliseconds(100)) {
                try await database.stepRuns(jobID: try #require(job.id)).filter { $0.outcome == .released }.count >= 3
            }
            #expect(waited)
            let waiting = try #require(try await database.jobDetails(code: job.code))
            #expect(waiting.job.state == .queued)
            #expect(waiting.steps[0].attempts == 0)
            let reason = waiting.job.lastError ?? "-"
            #expect(reason.contains("document store") && reason.contains("S3 unreachable") && reason.hasSuffix("the job waits for it"), "\(reason)")
            #expect(waiting.job.lastError?.contains(nodes.server.secretKey) == false)

            try await nodes.server.resume()
            let finished = try await poll(timeout: .seconds(90), every: .milliseconds(200)) {
                try await database.jobDetails(code: job.code)?.job.state == .done
            }
            #expect(finished)
            let done = try #require(try await database.jobDetails(code: job.code))
            #expect(done.steps[0].attempts == 1)
            #expect(done.output(of: "measure") == Data("\(bytes.count)".utf8))
        }
    }
}
