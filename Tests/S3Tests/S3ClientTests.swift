import Crypto
import CurlHTTP
import Foundation
@testable import S3
import TestSupport
import Testing

/// The S3 client against a real S3-compatible server (SeaweedFS on loopback, SigV4 enforced).
@Suite("S3 client against SeaweedFS", .serialized)
struct S3ClientTests {
    func withServer(_ body: (SeaweedFS, S3Client, HTTPClient) async throws -> Void) async throws {
        let server = try await SeaweedFS.start()
        let http = HTTPClient()
        let client = S3Client(configuration: S3Configuration(
            bucket: "archive-test", endpoint: server.endpoint, region: "us-east-1", prefix: "gw/", forcePathStyle: true,
            credentials: AWSCredentials(accessKeyID: server.accessKey, secretAccessKey: server.secretKey)), http: http)
        do {
            // SeaweedFS takes the bucket before its volume takes writes (500 until then): ready once a probe is written.
            try await eventually {
                try await client.createBucket()
                try await client.probe(".ready")
            }
            try await body(server, client, http)
        } catch {
            http.shutdown()
            await server.stop()
            throw error
        }
        http.shutdown()
        await server.stop()
    }

    @Test("objects go up with metadata and a checksum, read back equal, are listed and deleted")
    func roundTrip() async throws {
        try await withServer { _, client, _ in
            let body = Data("hello archive, ünïcödé\n".utf8)
            try await client.putObject(client.key("processed/abc/ocr.txt"), data: body, contentType: "text/plain; charset=utf-8",
                                       metadata: ["job-code": "K7QX2M", "original-name": "scan (1).jpg"])
            let info = try #require(try await client.headObject(client.key("processed/abc/ocr.txt")))
            #expect(info.size == Int64(body.count))
            #expect(info.metadata["job-code"] == "K7QX2M")
            #expect(try await client.getObject(client.key("processed/abc/ocr.txt")) == body)
            #expect(try await client.headObject(client.key("nope")) == nil)
            let listed = try await client.listObjects(prefix: "gw/processed/")
            #expect(listed.map(\.key) == ["gw/processed/abc/ocr.txt"])
            try await client.deleteObject(client.key("processed/abc/ocr.txt"))
            #expect(try await client.headObject(client.key("processed/abc/ocr.txt")) == nil)
        }
    }

    @Test("a request signed with a wrong secret is rejected as a permanent error")
    func wrongSecret() async throws {
        try await withServer { server, _, http in
            let impostor = S3Client(configuration: S3Configuration(
                bucket: "archive-test", endpoint: server.endpoint, forcePathStyle: true,
                credentials: AWSCredentials(accessKeyID: server.accessKey, secretAccessKey: "not-the-secret")), http: http)
            do {
                try await impostor.putObject("x", data: Data("x".utf8), contentType: "text/plain")
                Issue.record("a wrongly signed request was accepted")
            } catch let error as S3Error {
                #expect(error.code == "SignatureDoesNotMatch", "\(error)")
                #expect(!error.isTransient)
                #expect(!error.description.contains("not-the-secret"))
            }
        }
    }

    @Test("a 40 MB file goes up as multipart, streamed from disk, and reads back equal")
    func multipart() async throws {
        try await withServer { _, client, _ in
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID().uuidString).bin")
            defer { try? FileManager.default.removeItem(at: path) }
            var generator = SystemRandomNumberGenerator()
            let chunk = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            guard FileManager.default.createFile(atPath: path.path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
            let handle = try FileHandle(forWritingTo: path)
            for index in 0..<40 { try handle.write(contentsOf: chunk + Data([UInt8(index)])) }
            try handle.close()
            let expected = try S3Client.sha256(file: path.path, offset: 0, length: S3Client.fileSize(path.path))
            try await client.putObject(client.key("raw/big.bin"), file: path.path, contentType: "application/octet-stream")
            #expect(try await client.headObject(client.key("raw/big.bin"))?.size == 40 * ((1 << 20) + 1))
            let back = path.deletingLastPathComponent().appendingPathComponent("back-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: back) }
            _ = try await client.getObject(client.key("raw/big.bin"), to: back.path)
            #expect(try S3Client.sha256(file: back.path, offset: 0, length: S3Client.fileSize(back.path)) == expected)
        }
    }

    @Test("a stopped server is a transient error")
    func unreachable() async throws {
        let http = HTTPClient()
        defer { http.shutdown() }
        let client = S3Client(configuration: S3Configuration(bucket: "b", endpoint: URL(string: "http://127.0.0.1:9")!, forcePathStyle: true,
                                                             credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "s")), http: http)
        do {
            _ = try await client.headObject("k")
            Issue.record("a closed port answered")
        } catch let error as S3Error {
            #expect(error.isTransient)
        }
    }
}
