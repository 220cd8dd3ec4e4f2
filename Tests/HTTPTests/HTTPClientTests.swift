import CurlHTTP
import Foundation
import Hummingbird
import NIOCore
import TestSupport
import Testing

@Suite("HTTP client on libcurl")
struct HTTPClientTests {
    static func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("hello") { _, _ -> Response in
            Response(status: .ok, headers: [.init("X-Test")!: "1", .contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "hello")))
        }
        router.post("echo") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 10 << 20)
            var headers = HTTPFields()
            headers[.contentType] = request.headers[.contentType] ?? "none"
            headers[.init("X-Method")!] = request.method.rawValue
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
        router.put("echo") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 10 << 20)
            return Response(status: .ok, headers: [.init("X-Method")!: "PUT"], body: .init(byteBuffer: body))
        }
        router.get("slow") { request, _ -> String in
            let milliseconds = request.uri.queryParameters.get("ms", as: Int.self) ?? 1000
            try await Task.sleep(for: .milliseconds(milliseconds))
            return "finally"
        }
        router.get("big") { request, _ -> Response in
            let bytes = request.uri.queryParameters.get("bytes", as: Int.self) ?? 1000
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: UInt8(ascii: "x"), count: bytes)))
        }
        router.get("limited") { _, _ -> Response in
            Response(status: .tooManyRequests, headers: [.retryAfter: "2"], body: .init(byteBuffer: ByteBuffer(string: "{\"ok\":false}")))
        }
        return router
    }

    func withServer(_ body: (LoopbackServer, HTTPClient) async throws -> Void) async throws {
        let server = try await LoopbackServer.start(Self.router())
        let client = HTTPClient()
        do {
            try await body(server, client)
        } catch {
            client.shutdown()
            await server.stop()
            throw error
        }
        client.shutdown()
        await server.stop()
    }

    @Test("GET returns status, headers and body")
    func get() async throws {
        try await withServer { server, client in
            let response = try await client.send(HTTPClientRequest(url: server.baseURL + "/hello"))
            #expect(response.status == 200)
            #expect(response.header("x-test") == "1")
            #expect(String(decoding: response.body, as: UTF8.self) == "hello")
        }
    }

    @Test("JSON and PUT bodies arrive intact; 4xx is a response, not an error")
    func bodies() async throws {
        try await withServer { server, client in
            let json = Data(#"{"chat_id":1,"text":"héllo"}"#.utf8)
            let echoed = try await client.send(.json(url: server.baseURL + "/echo", body: json))
            #expect(echoed.body == json)
            #expect(echoed.header("content-type") == "application/json")
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("put-\(UUID().uuidString)")
            try Data("0123456789".utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let put = try await client.send(HTTPClientRequest(method: "PUT", url: server.baseURL + "/echo", body: .file(path: file.path, offset: 2, length: 5)))
            #expect(put.header("x-method") == "PUT")
            #expect(String(decoding: put.body, as: UTF8.self) == "23456")
            let emptyPost = try await client.send(HTTPClientRequest(method: "POST", url: server.baseURL + "/echo"))
            #expect(emptyPost.header("x-method") == "POST")
            #expect(emptyPost.body.isEmpty)
            let limited = try await client.send(HTTPClientRequest(url: server.baseURL + "/limited"))
            #expect(limited.status == 429)
            #expect(limited.retryAfter == 2)
        }
    }

    @Test("multipart uploads stream a file part and carry the field names")
    func multipart() async throws {
        try await withServer { server, client in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("part-\(UUID().uuidString).md")
            try Data("# report\n".utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let response = try await client.send(HTTPClientRequest(method: "POST", url: server.baseURL + "/echo", body: .multipart([
                .field("chat_id", "42"),
                MultipartPart(name: "document", filename: "report.md", contentType: "text/markdown", content: .file(file.path)),
            ])))
            let body = String(decoding: response.body, as: UTF8.self)
            #expect(response.header("content-type")?.hasPrefix("multipart/form-data; boundary=") == true)
            #expect(body.contains("name=\"chat_id\"\r\n\r\n42\r\n"))
            #expect(body.contains("name=\"document\"; filename=\"report.md\""))
            #expect(body.contains("# report\n"))
        }
    }

    @Test("a request over its timeout fails as timed out, promptly")
    func timeout() async throws {
        try await withServer { server, client in
            let started = ContinuousClock.now
            await #expect(throws: HTTPClientError.timedOut(host: "http://127.0.0.1:\(server.port)/…")) {
                _ = try await client.send(HTTPClientRequest(url: server.baseURL + "/slow?ms=30000", timeout: .milliseconds(300)))
            }
            // Far below the server's 30 s, with room for a loaded CI machine.
            #expect(ContinuousClock.now - started < .seconds(15))
        }
    }

    @Test("cancelling the task aborts the transfer")
    func cancellation() async throws {
        try await withServer { server, client in
            let started = ContinuousClock.now
            let task = Task { try await client.send(HTTPClientRequest(url: server.baseURL + "/slow?ms=30000")) }
            try await Task.sleep(for: .milliseconds(100))
            task.cancel()
            await #expect(throws: HTTPClientError.cancelled) { _ = try await task.value }
            #expect(ContinuousClock.now - started < .seconds(15))
        }
    }

    @Test("a body over the cap is refused; a download streams to a file")
    func sizes() async throws {
        try await withServer { server, client in
            await #expect(throws: HTTPClientError.self) {
                _ = try await client.send(HTTPClientRequest(url: server.baseURL + "/big?bytes=1000000", maxResponseBytes: 1000))
            }
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("download-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            let response = try await client.send(HTTPClientRequest(url: server.baseURL + "/big?bytes=300000", downloadPath: path))
            #expect(response.body.isEmpty)
            #expect(response.bodyBytes == 300_000)
            #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == 300_000)
        }
    }

    @Test("20 concurrent requests all complete")
    func concurrent() async throws {
        try await withServer { server, client in
            let bodies = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let response = try await client.send(.json(url: server.baseURL + "/echo", body: Data("\(index)".utf8)))
                        return String(decoding: response.body, as: UTF8.self)
                    }
                }
                var bodies: Set<String> = []
                for try await body in group { bodies.insert(body) }
                return bodies
            }
            #expect(bodies == Set((0..<20).map(String.init)))
        }
    }

    @Test("a refused connection is transient and its message holds no path or secret")
    func refused() async throws {
        let client = HTTPClient()
        defer { client.shutdown() }
        do {
            _ = try await client.send(HTTPClientRequest(url: "http://127.0.0.1:9/bot123456:SECRET-TOKEN/getMe", timeout: .seconds(5)))
            Issue.record("a closed port answered")
        } catch let error as HTTPClientError {
            #expect(error.isTransient)
            #expect(!error.description.contains("SECRET"))
            #expect(!error.description.contains("bot123456"))
        }
        await #expect(throws: HTTPClientError.self) { _ = try await client.send(HTTPClientRequest(url: "ftp://example.com/file")) }
    }
}
