import Crypto
import Foundation
import Hummingbird
import NIOCore
import TestSupport
import Testing

/// `scripts/pypi-fetch.py`, which `scripts/llama-server` downloads with on a fresh machine, against a loopback
/// index that answers as a mirror does: the file URL in the JSON is relative to the JSON's own URL.
@Suite("scripts/pypi-fetch.py")
struct PyPIFetchTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let payload = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })

    static func index(fileURL: String, sha256: String) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("pypi/tool/json") { _, _ -> Response in
            let json = #"{"releases": {"1.0": [{"packagetype": "sdist", "url": "\#(fileURL)", "digests": {"sha256": "\#(sha256)"}}]}}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
        }
        router.get("packages/ab/tool-1.0.tar.gz") { _, _ -> Response in
            Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: payload)))
        }
        return router
    }

    func fetch(from server: LoopbackServer) async throws -> (ChildProcess.Outcome, URL) {
        let destination = FileManager.default.temporaryDirectory.appendingPathComponent("fetched-\(UUID().uuidString)")
        let outcome = try await ChildProcess.runOffPool(["python3", Self.root.appendingPathComponent("scripts/pypi-fetch.py").path, "tool", "1.0", "sdist", destination.path],
                                           environment: ChildProcess.environment(["PYPI_JSON_URL": "\(server.baseURL)/pypi"]))
        return (outcome, destination)
    }

    @Test("a relative file URL is resolved against the JSON's URL and the file is verified")
    func relativeURL() async throws {
        let digest = SHA256.hash(data: Self.payload).map { String(format: "%02x", $0) }.joined()
        let server = try await LoopbackServer.start(Self.index(fileURL: "../../packages/ab/tool-1.0.tar.gz", sha256: digest))
        defer { Task { await server.stop() } }
        let (outcome, destination) = try await fetch(from: server)
        defer { try? FileManager.default.removeItem(at: destination) }
        #expect(outcome.exitCode == 0, "\(outcome.standardError)")
        #expect(try Data(contentsOf: destination) == Self.payload)
    }

    @Test("a file whose sha256 differs from the index's is refused and not left behind")
    func wrongDigest() async throws {
        let server = try await LoopbackServer.start(Self.index(fileURL: "../../packages/ab/tool-1.0.tar.gz", sha256: String(repeating: "0", count: 64)))
        defer { Task { await server.stop() } }
        let (outcome, destination) = try await fetch(from: server)
        #expect(outcome.exitCode == 1)
        #expect(outcome.standardError.contains("sha256"))
        #expect(!FileManager.default.fileExists(atPath: destination.path))
        #expect(!FileManager.default.fileExists(atPath: destination.path + ".part"))
    }
}
