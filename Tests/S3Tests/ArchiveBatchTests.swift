import Crypto
import CurlHTTP
import Foundation
import S3
import Storage
import TestSupport
import Testing
import Plugins
import UseCases

/// `botgateway batch` with archiving on, against SeaweedFS.
@Suite("archive step against SeaweedFS", .serialized)
struct ArchiveBatchTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let files = ["receipt.jpg", "invoice.png"]

    struct Workspace {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("archive-test-\(UUID().uuidString)")
        var inbox: URL { root.appendingPathComponent("inbox") }

        init() throws {
            try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
            for name in ArchiveBatchTests.files {
                try FileManager.default.copyItem(at: ArchiveBatchTests.root.appendingPathComponent("fixtures/\(name)"), to: inbox.appendingPathComponent(name))
            }
        }

        func batch(_ server: SeaweedFS, data: String = "data") async throws -> ChildProcess.Outcome {
            try await ChildProcess.runOffPool([ChildProcess.botgateway, "batch", inbox.path, "--json"], environment: ChildProcess.environment([
                "BOT_DATA_DIR": root.appendingPathComponent(data).path, "OCR_WORKERS": "1", "LOG_LEVEL": "error",
                "S3_BUCKET": "archive", "S3_ENDPOINT": server.endpoint.absoluteString, "S3_FORCE_PATH_STYLE": "true", "S3_PREFIX": "gw/",
                "S3_ACCESS_KEY_ID": server.accessKey, "S3_SECRET_ACCESS_KEY": server.secretKey,
            ]))
        }

        func archiveOutputs(data: String = "data") async throws -> [[String: Any]] {
            let database = try AppDatabase(path: root.appendingPathComponent("\(data)/botgateway.sqlite").path)
            let jobs = try await database.jobs(limit: 10)
            var objects: [[String: Any]] = []
            for job in jobs {
                guard let output = try await database.jobDetails(code: job.code)?.output(of: "archive"),
                      let object = try JSONSerialization.jsonObject(with: output) as? [String: Any],
                      let list = object["objects"] as? [[String: Any]] else { continue }
                objects += list
            }
            return objects
        }

        func remove() { try? FileManager.default.removeItem(at: root) }
    }

    static func client(_ server: SeaweedFS, _ http: HTTPClient) -> S3Client {
        S3Client(configuration: S3Configuration(bucket: "archive", endpoint: server.endpoint, forcePathStyle: true,
                                                credentials: AWSCredentials(accessKeyID: server.accessKey, secretAccessKey: server.secretKey)), http: http)
    }

    /// SeaweedFS with the `archive` bucket, an HTTP client, a fresh workspace and an S3 client on the bucket.
    static func start() async throws -> (SeaweedFS, HTTPClient, Workspace, S3Client) {
        let server = try await SeaweedFS.start()
        let http = HTTPClient()
        let client = Self.client(server, http)
        // SeaweedFS takes the bucket before its volume takes writes (500 until then): ready once a probe is written.
        try await eventually {
            try await client.createBucket()
            try await client.probe(".ready")
        }
        return (server, http, try Workspace(), client)
    }

    static func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    @Test("a batch archives every original and result at its key; a second run uploads nothing new")
    func archives() async throws {
        let (server, http, workspace, client) = try await Self.start()
        defer { workspace.remove() }

        let first = try await workspace.batch(server)
        #expect(first.exitCode == 0, "\(first.standardError)")
        let keys = Set(try await client.listObjects(prefix: "gw/").map(\.key))
        for name in Self.files {
            let data = try Data(contentsOf: Self.root.appendingPathComponent("fixtures/\(name)"))
            let sha = Self.sha256(data)
            let ext = name.hasSuffix(".jpg") ? "jpg" : "png"
            #expect(keys.contains("gw/raw/\(sha).\(ext)"))
            #expect(keys.contains("gw/processed/\(sha)/ocr.txt"))
            #expect(keys.contains("gw/processed/\(sha)/analysis.json"))
            // The searchable PDF the OCR step kept (SEARCHABLE_PDF is on by default).
            #expect(try await client.getObject("gw/processed/\(sha)/searchable.pdf").starts(with: Data("%PDF-".utf8)))
            #expect(try await client.getObject("gw/raw/\(sha).\(ext)") == data)
            #expect(try await client.headObject("gw/raw/\(sha).\(ext)")?.metadata["original-name"] == name)
            let analysis = try await client.getObject("gw/processed/\(sha)/analysis.json")
            #expect((try JSONSerialization.jsonObject(with: analysis) as? [String: Any])?["document_type"] != nil)
        }
        #expect(keys.count == 9)
        #expect(keys.contains { $0.hasPrefix("gw/reports/batch-") && $0.hasSuffix(".md") })
        #expect(try await workspace.archiveOutputs().allSatisfy { $0["uploaded"] as? Bool == true })

        // A fresh data folder archives the same documents again: everything is already there.
        let second = try await workspace.batch(server, data: "data-again")
        #expect(second.exitCode == 0)
        let again = try await workspace.archiveOutputs(data: "data-again")
        #expect(again.count == 8)
        #expect(second.standardOutput.contains("report archived as gw/reports/batch-"))
        #expect(again.allSatisfy { $0["uploaded"] as? Bool == false })

        let doctor = try await ChildProcess.runOffPool([ChildProcess.botgateway, "doctor"], environment: ChildProcess.environment([
            "BOT_DATA_DIR": workspace.root.appendingPathComponent("data").path, "S3_BUCKET": "archive", "S3_ENDPOINT": server.endpoint.absoluteString,
            "S3_FORCE_PATH_STYLE": "true", "S3_ACCESS_KEY_ID": server.accessKey, "S3_SECRET_ACCESS_KEY": server.secretKey,
        ]))
        #expect(doctor.exitCode == 0, "\(doctor.standardOutput)")
        #expect(doctor.standardOutput.contains("ok    S3 bucket archive: write, read back and delete"))
        #expect(!doctor.standardOutput.contains(server.secretKey))
        #expect(try await client.listObjects(prefix: "botgateway-doctor").isEmpty)
        #expect(doctor.standardOutput.contains("ok    documents on this machine's disk"), "\(doctor.standardOutput)")
        // With BLOB_STORE=s3 the doctor probes the document store in the bucket too, and leaves nothing there.
        let shared = try await ChildProcess.runOffPool([ChildProcess.botgateway, "doctor"], environment: ChildProcess.environment([
            "BOT_DATA_DIR": workspace.root.appendingPathComponent("data").path, "S3_BUCKET": "archive", "S3_ENDPOINT": server.endpoint.absoluteString,
            "S3_FORCE_PATH_STYLE": "true", "S3_ACCESS_KEY_ID": server.accessKey, "S3_SECRET_ACCESS_KEY": server.secretKey, "S3_PREFIX": "gw/",
            "BLOB_STORE": "s3",
        ]))
        #expect(shared.exitCode == 0, "\(shared.standardOutput)")
        #expect(shared.standardOutput.contains("ok    documents in s3://archive/gw/blobs/"), "\(shared.standardOutput)")
        #expect(try await client.listObjects(prefix: "gw/blobs/.doctor").isEmpty)
        http.shutdown()
        await server.stop()
    }

    @Test("/forget removes the job, the document's bytes and its archived copies; another document's stay")
    func forget() async throws {
        let (server, http, workspace, client) = try await Self.start()
        defer { workspace.remove() }
        #expect(try await workspace.batch(server).exitCode == 0)

        let data = workspace.root.appendingPathComponent("data")
        let database = try AppDatabase(path: data.appendingPathComponent("botgateway.sqlite").path)
        let blobs = try BlobStore(dataDirectory: data)
        let prefixed = S3Client(configuration: S3Configuration(bucket: "archive", endpoint: server.endpoint, prefix: "gw/", forcePathStyle: true,
                                                               credentials: AWSCredentials(accessKeyID: server.accessKey, secretAccessKey: server.secretKey)),
                                http: http)
        let jobs = StoreJobService(documents: database, queue: database, usage: database, blobs: blobs, intake: DocumentIntake(blobs: blobs),
                                   steps: StepCatalog([]), archive: ArchivedCopies(client: prefixed))
        let receipt = try #require(try await database.jobs(limit: 10).first { $0.sourceName == "receipt.jpg" })
        let blob = try #require(try await database.document(sha256: receipt.documentSHA256)).blobPath
        let sha = receipt.documentSHA256

        let admin = Requester(chatID: 1, userID: 1, isAdmin: true)
        #expect(try await jobs.forget(code: receipt.code, for: admin) == .forgotten(code: receipt.code, documentRemoved: true))
        #expect(try await database.jobDetails(code: receipt.code) == nil)
        #expect(try await database.document(sha256: sha) == nil)
        #expect(!FileManager.default.fileExists(atPath: blobs.absolutePath(blob)))
        let keys = Set(try await client.listObjects(prefix: "gw/").map(\.key))
        #expect(!keys.contains { $0.contains(sha) })
        // The invoice's original and results, and the batch report, are still there.
        #expect(keys.filter { $0.hasPrefix("gw/raw/") || $0.hasPrefix("gw/processed/") }.count == 4)
        #expect(try await jobs.forget(code: receipt.code, for: admin) == .notFound)
        http.shutdown()
        await server.stop()
    }

    @Test("with the store down the analyses are still delivered; the archive completes once it is back")
    func storeDown() async throws {
        let (server, http, workspace, client) = try await Self.start()
        defer { workspace.remove() }
        await server.pause()

        let during = try await workspace.batch(server)
        #expect(during.exitCode == 0, "\(during.standardError)")
        let report = try String(contentsOf: workspace.inbox.appendingPathComponent("botgateway-report.md"), encoding: .utf8)
        #expect(report.contains("- Documents: 2 (2 analysed, 0 failed)"))
        #expect(report.contains("- Archive: 2 not yet in the bucket (retried later)"))

        try await server.resume()
        // SeaweedFS answers on its S3 port before its filer and volume take writes: wait until one lands, so the
        // second run meets the store back up rather than still starting.
        let writable = await poll(timeout: .seconds(60), every: .milliseconds(500)) {
            do {
                try await client.putObject("probe", data: Data("x".utf8), contentType: "text/plain")
                try await client.deleteObject("probe")
                return true
            } catch {
                return false
            }
        }
        try #require(writable, "SeaweedFS did not take writes within 60 s of restarting")
        let after = try await workspace.batch(server)
        #expect(after.exitCode == 0, "\(after.standardError)")
        #expect(try await client.listObjects(prefix: "gw/raw/").count == 2)
        #expect(try await client.listObjects(prefix: "gw/processed/").count == 6)
        #expect(during.standardOutput.contains("the report was not archived to S3"))
        let final = try String(contentsOf: workspace.inbox.appendingPathComponent("botgateway-report.md"), encoding: .utf8)
        #expect(!final.contains("- Archive:"))
        http.shutdown()
        await server.stop()
    }
}
