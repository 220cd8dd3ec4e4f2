@testable import BotGateway
import Crypto
import CurlHTTP
import Foundation
import Storage
import Testing
import TestSupport
import UseCases

/// The HTTP API against the whole gateway in-process (real server, real pipeline, real OCR): uploads and their
/// refusals, job status, pagination, search, originals, reports, scopes, rate limits and quotas.
@Suite("HTTP API", .serialized)
struct APIFlowTests {
    /// A token made the way `botgateway tokens create` makes it.
    static func token(_ gateway: GatewayHarness, _ name: String, scopes: Set<APIScope> = [.upload, .read], rate: Double? = nil,
                      quota: Int? = nil) async throws -> String {
        try await APITokenService(store: gateway.database).create(name: name, scopes: scopes, rateLimit: rate, dailyQuota: quota).secret
    }

    struct Reply {
        var status: Int
        var body: Data
        var headers: [(name: String, value: String)]

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
        /// The problem's kind, from an `application/problem+json` body.
        var problem: String? {
            guard header("Content-Type") == "application/problem+json" else { return nil }
            return (json["type"] as? String)?.replacingOccurrences(of: APIProblem.typeBase, with: "")
        }
    }

    static func call(_ gateway: GatewayHarness, _ path: String, method: String = "GET", token: String?, body: Data? = nil,
                     headers: [(name: String, value: String)] = []) async throws -> Reply {
        var all = headers
        if let token { all.append(("Authorization", "Bearer \(token)")) }
        let response = try await gateway.http.send(HTTPClientRequest(method: method, url: "http://127.0.0.1:\(gateway.port)\(path)", headers: all,
                                                                     body: body.map { .data($0) } ?? .none))
        return Reply(status: response.status, body: response.body, headers: response.headers)
    }

    static func upload(_ gateway: GatewayHarness, _ data: Data, name: String, token: String, query: String = "",
                       headers: [(name: String, value: String)] = []) async throws -> Reply {
        let separator = query.isEmpty ? "" : "&"
        return try await call(gateway, "/api/v1/documents?filename=\(name)\(separator)\(query)", method: "POST", token: token, body: data,
                              headers: [("Content-Type", "application/octet-stream")] + headers)
    }

    static func multipart(_ fields: [(String, String)], file: Data, filename: String, boundary: String = "----botgw-test-boundary") -> (Data, String) {
        var body = Data()
        for (name, value) in fields {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: image/png\r\n\r\n".utf8)
        body += file + Data("\r\n--\(boundary)--\r\n".utf8)
        return (body, "multipart/form-data; boundary=\(boundary)")
    }

    /// Polls the job until it is over.
    static func finished(_ gateway: GatewayHarness, _ code: String, token: String) async throws -> [String: Any] {
        for _ in 0..<600 {
            let reply = try await call(gateway, "/api/v1/jobs/\(code)", token: token)
            if let state = reply.json["state"] as? String, state == "done" || state == "failed" { return reply.json }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("job \(code) did not finish")
        return [:]
    }

    @Test("an upload is kept before 202, read, and answered with steps and analysis; the same bytes again return the same job")
    func uploadAndStatus() async throws {
        let gateway = try await GatewayHarness.start()
        do {
            let token = try await Self.token(gateway, "scanner")
            let receipt = try GatewayHarness.fixture("invoice.png")
            let first = try await Self.upload(gateway, receipt, name: "invoice.png", token: token, query: "language=en")
            #expect(first.status == 202)
            let code = try #require((first.json["job"] as? [String: Any])?["code"] as? String)
            #expect(first.header("Location") == "/api/v1/jobs/\(code)")
            #expect(first.json["created"] as? Bool == true)
            // Durable before the answer: the job and its document are in the store already.
            let stored = try #require(try await gateway.database.jobDetails(code: code))
            #expect(stored.job.origin == .api && stored.job.tokenID != nil && stored.job.languageCode == "en")
            #expect(FileManager.default.fileExists(atPath: gateway.directory.appendingPathComponent(stored.document.blobPath).path))

            let again = try await Self.upload(gateway, receipt, name: "copy.png", token: token)
            #expect(again.status == 200)
            #expect((again.json["job"] as? [String: Any])?["code"] as? String == code)
            #expect(again.json["created"] as? Bool == false)

            let job = try await Self.finished(gateway, code, token: token)
            #expect(job["state"] as? String == "done")
            let steps = try #require(job["steps"] as? [[String: Any]])
            #expect(steps.map { $0["name"] as? String } == ["ocr", "analyze"])
            #expect(steps.allSatisfy { $0["state"] as? String == "done" && $0["duration_ms"] is Double && $0["started_at"] is String })
            let analysis = try #require(job["analysis"] as? [String: Any])
            #expect(analysis["document_type"] is String)
            #expect((job["document"] as? [String: Any])?["mime_type"] as? String == "image/png")

            // The text and the original, by the document id the job names.
            let documentID = try #require((job["document"] as? [String: Any])?["id"] as? String)
            let text = try await Self.call(gateway, "/api/v1/documents/\(documentID)/text", token: token)
            #expect(text.status == 200 && text.text.localizedCaseInsensitiveContains("invoice"))
            let original = try await Self.call(gateway, "/api/v1/documents/\(documentID)/original", token: token)
            #expect(original.status == 200 && original.body == receipt && original.header("Content-Type") == "image/png")
            #expect(original.header("Content-Disposition")?.contains("invoice.png") == true)

            let search = try await Self.call(gateway, "/api/v1/documents?q=invoice", token: token)
            let hits = try #require(search.json["results"] as? [[String: Any]])
            #expect(hits.first?["job_code"] as? String == code)
            #expect((hits.first?["snippet"] as? String)?.contains("«") == true)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("a multipart form upload with its fields; an Idempotency-Key returns its job, and is refused with other bytes")
    func multipartAndIdempotency() async throws {
        let gateway = try await GatewayHarness.start()
        do {
            let token = try await Self.token(gateway, "forms")
            let letter = try GatewayHarness.fixture("letter.png")
            let (body, type) = Self.multipart([("group", "march"), ("language", "de")], file: letter, filename: "brief.png")
            let first = try await Self.call(gateway, "/api/v1/documents", method: "POST", token: token, body: body,
                                            headers: [("Content-Type", type), ("Idempotency-Key", "upload-1")])
            #expect(first.status == 202)
            let job = try #require(first.json["job"] as? [String: Any])
            #expect(job["name"] as? String == "brief.png")
            #expect(job["group_id"] is Int)
            let code = try #require(job["code"] as? String)
            #expect(try await gateway.database.jobDetails(code: code)?.job.languageCode == "de")
            #expect(try await gateway.database.jobDetails(code: code)?.document.size == Int64(letter.count))

            let repeatKey = try await Self.call(gateway, "/api/v1/documents", method: "POST", token: token, body: body,
                                                headers: [("Content-Type", type), ("Idempotency-Key", "upload-1")])
            #expect(repeatKey.status == 200 && (repeatKey.json["job"] as? [String: Any])?["code"] as? String == code)
            let reused = try await Self.upload(gateway, try GatewayHarness.fixture("invoice.png"), name: "other.png", token: token,
                                               headers: [("Idempotency-Key", "upload-1")])
            #expect(reused.status == 422 && reused.problem == "idempotency-key-reused")
            // Refused before it was taken in: neither its document nor its bytes were kept.
            let otherSHA = SHA256.hash(data: try GatewayHarness.fixture("invoice.png")).map { String(format: "%02x", $0) }.joined()
            #expect(try await gateway.database.document(sha256: otherSHA) == nil)
            #expect(!FileManager.default.fileExists(atPath: gateway.directory.appendingPathComponent("blobs/\(otherSHA.prefix(2))/\(otherSHA)").path))
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("refusals are problem documents that say what to do, and keep nothing")
    func problems() async throws {
        let gateway = try await GatewayHarness.start(api: APISettings(maxUploadBytes: 300_000))
        do {
            let token = try await Self.token(gateway, "client")
            let missing = try await Self.call(gateway, "/api/v1/jobs", token: nil)
            #expect(missing.status == 401 && missing.problem == "unauthorized" && missing.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            #expect((missing.json["detail"] as? String)?.contains("tokens create") == true)
            #expect(try await Self.call(gateway, "/api/v1/jobs", token: "bgw_not-a-real-token").status == 401)

            let text = try await Self.upload(gateway, Data("just some text, not a document".utf8), name: "notes.txt", token: token)
            #expect(text.status == 415 && text.problem == "unsupported-type")
            #expect((text.json["detail"] as? String)?.contains("PDF") == true)
            let empty = try await Self.upload(gateway, Data(), name: "empty.png", token: token)
            #expect(empty.status == 422 && empty.problem == "empty-file")
            let large = try await Self.upload(gateway, Data(repeating: 0x89, count: 400_000), name: "huge.png", token: token)
            #expect(large.status == 413 && large.problem == "too-large")
            // A raw body's options are checked before its bytes: the bad language is what is said, not the size.
            let badOptions = try await Self.upload(gateway, Data(repeating: 0x89, count: 400_000), name: "huge.png", token: token, query: "language=12345")
            #expect(badOptions.status == 422 && badOptions.problem == "invalid-language")
            let broken = try await Self.call(gateway, "/api/v1/documents", method: "POST", token: token, body: Data("--x\r\nnonsense".utf8),
                                             headers: [("Content-Type", "multipart/form-data; boundary=x")])
            #expect(broken.status == 400 && broken.problem == "bad-request")
            let noFile = try await Self.call(gateway, "/api/v1/documents", method: "POST", token: token,
                                             body: Data("--x\r\nContent-Disposition: form-data; name=\"group\"\r\n\r\ng\r\n--x--\r\n".utf8),
                                             headers: [("Content-Type", "multipart/form-data; boundary=x")])
            #expect(noFile.status == 400 && (noFile.json["detail"] as? String)?.contains("file") == true)
            let png = try GatewayHarness.fixture("letter.png")
            #expect(try await Self.upload(gateway, png, name: "a.png", token: token, query: "language=12345").problem == "invalid-language")
            #expect(try await Self.upload(gateway, png, name: "a.png", token: token, query: "callback_url=ftp://example.com/x").problem == "callback-refused")
            // Nothing above was kept, and no scratch file was left behind.
            #expect(try await gateway.database.jobs(limit: 10).isEmpty)
            let scratch = (try? FileManager.default.contentsOfDirectory(atPath: gateway.directory.appendingPathComponent("tmp").path)) ?? []
            #expect(scratch.filter { $0.hasPrefix("api-") }.isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: gateway.directory.appendingPathComponent("blobs/tmp").path).isEmpty)

            #expect(try await Self.call(gateway, "/api/v1/jobs/NOSUCH", token: token).problem == "not-found")
            #expect(try await Self.call(gateway, "/api/v1/jobs?cursor=0garbage", token: token).problem == "bad-request")
            #expect(try await Self.call(gateway, "/api/v1/jobs?state=lost", token: token).status == 400)
            #expect(try await Self.call(gateway, "/api/v1/documents", token: token).status == 400)
            #expect(try await Self.call(gateway, "/api/v1/groups/999/report", token: token).status == 404)
            #expect(try await Self.call(gateway, "/api/v1/documents/\(String(repeating: "a", count: 64))/original", token: token).status == 404)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("a token never sees another token's jobs or documents; scopes are enforced; admin sees all")
    func scopes() async throws {
        let gateway = try await GatewayHarness.start()
        do {
            let alice = try await Self.token(gateway, "alice"), bob = try await Self.token(gateway, "bob")
            let reader = try await Self.token(gateway, "reader", scopes: [.read])
            let admin = try await Self.token(gateway, "ops", scopes: [.admin])
            let uploaded = try await Self.upload(gateway, try GatewayHarness.fixture("invoice.png"), name: "alice.png", token: alice)
            let code = try #require((uploaded.json["job"] as? [String: Any])?["code"] as? String)
            let job = try await Self.finished(gateway, code, token: alice)
            let documentID = try #require((job["document"] as? [String: Any])?["id"] as? String)

            #expect(try await Self.call(gateway, "/api/v1/jobs/\(code)", token: bob).status == 404)
            #expect(try await Self.call(gateway, "/api/v1/documents/\(documentID)/original", token: bob).status == 404)
            #expect(try await Self.call(gateway, "/api/v1/documents/\(documentID)/text", token: bob).status == 404)
            let bobSearch = try await Self.call(gateway, "/api/v1/documents?q=invoice", token: bob)
            #expect(bobSearch.status == 200 && (bobSearch.json["results"] as? [Any])?.isEmpty == true)
            #expect((try await Self.call(gateway, "/api/v1/jobs", token: bob).json["jobs"] as? [Any])?.isEmpty == true)
            #expect(try await Self.call(gateway, "/api/v1/jobs/\(code)/retry", method: "POST", token: bob).status == 404)

            let refused = try await Self.upload(gateway, try GatewayHarness.fixture("letter.png"), name: "r.png", token: reader)
            #expect(refused.status == 403 && refused.problem == "insufficient-scope")
            #expect(try await Self.call(gateway, "/api/v1/stats", token: alice).status == 403)

            #expect(try await Self.call(gateway, "/api/v1/jobs/\(code)", token: admin).status == 200)
            #expect((try await Self.call(gateway, "/api/v1/jobs", token: admin).json["jobs"] as? [Any])?.count == 1)
            let stats = try await Self.call(gateway, "/api/v1/stats", token: admin)
            #expect(stats.status == 200 && (stats.json["jobs"] as? [String: Any])?["done"] as? Int == 1)
            #expect(stats.json["spending"] is [Any])

            // A done job is not retried; a revoked token is refused at once.
            let retry = try await Self.call(gateway, "/api/v1/jobs/\(code)/retry", method: "POST", token: alice)
            #expect(retry.status == 409 && retry.problem == "not-retryable")
            #expect(try await APITokenService(store: gateway.database).revoke(name: "alice"))
            #expect(try await Self.call(gateway, "/api/v1/jobs/\(code)", token: alice).status == 401)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("jobs page by cursor, newest first, filtered by state and time")
    func pagination() async throws {
        let gateway = try await GatewayHarness.start()
        do {
            let token = try await Self.token(gateway, "pager")
            var codes: [String] = []
            for name in ["invoice.png", "letter.png", "notice-small-text.png"] {
                let reply = try await Self.upload(gateway, try GatewayHarness.fixture(name), name: name, token: token)
                codes.append(try #require((reply.json["job"] as? [String: Any])?["code"] as? String))
            }
            let first = try await Self.call(gateway, "/api/v1/jobs?limit=2", token: token)
            let page1 = try #require(first.json["jobs"] as? [[String: Any]])
            #expect(page1.compactMap { $0["code"] as? String } == [codes[2], codes[1]])
            let cursor = try #require(first.json["next_cursor"] as? String)
            let second = try await Self.call(gateway, "/api/v1/jobs?limit=2&cursor=\(cursor)", token: token)
            #expect((second.json["jobs"] as? [[String: Any]])?.compactMap { $0["code"] as? String } == [codes[0]])
            #expect(second.json["next_cursor"] is NSNull || second.json["next_cursor"] == nil)
            let future = try await Self.call(gateway, "/api/v1/jobs?since=2999-01-01T00:00:00Z", token: token)
            #expect((future.json["jobs"] as? [Any])?.isEmpty == true)
            for code in codes { _ = try await Self.finished(gateway, code, token: token) }
            let done = try await Self.call(gateway, "/api/v1/jobs?state=done", token: token)
            #expect((done.json["jobs"] as? [Any])?.count == 3)
            #expect((try await Self.call(gateway, "/api/v1/jobs?state=failed", token: token).json["jobs"] as? [Any])?.isEmpty == true)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("a token over its rate gets 429 with Retry-After; over its daily quota, 429 until midnight UTC")
    func limits() async throws {
        let gateway = try await GatewayHarness.start()
        do {
            let slow = try await Self.token(gateway, "slow", rate: 1)
            var statuses: [Int] = []
            for _ in 0..<4 { statuses.append(try await Self.call(gateway, "/api/v1/jobs", token: slow).status) }
            #expect(statuses.prefix(2) == [200, 200])
            let limited = try await Self.call(gateway, "/api/v1/jobs", token: slow)
            #expect(limited.status == 429 && limited.problem == "rate-limited")
            #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
            // Another token is not slowed by this one.
            let fast = try await Self.token(gateway, "fast")
            #expect(try await Self.call(gateway, "/api/v1/jobs", token: fast).status == 200)

            let capped = try await Self.token(gateway, "capped", quota: 1)
            #expect(try await Self.upload(gateway, try GatewayHarness.fixture("letter.png"), name: "1.png", token: capped).status == 202)
            let over = try await Self.upload(gateway, try GatewayHarness.fixture("invoice.png"), name: "2.png", token: capped)
            #expect(over.status == 429 && over.problem == "quota-exhausted")
            let wait = Int(over.header("Retry-After") ?? "") ?? 0
            #expect(wait >= 1 && wait <= 86_400)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("botgateway submit uploads files, waits for their jobs, and says which failed")
    func submitCommand() async throws {
        let gateway = try await GatewayHarness.start()
        do {
            let token = try await Self.token(gateway, "script")
            let folder = gateway.directory.appendingPathComponent("outbox")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try GatewayHarness.fixture("invoice.png").write(to: folder.appendingPathComponent("invoice.png"))
            try Data("not a document".utf8).write(to: folder.appendingPathComponent("notes.txt"))
            let run = try await ChildProcess.runOffPool([
                ChildProcess.botgateway, "submit", folder.appendingPathComponent("invoice.png").path, folder.appendingPathComponent("notes.txt").path,
                "--url", "http://127.0.0.1:\(gateway.port)", "--wait", "--json",
            ], environment: ChildProcess.environment(["BOTGATEWAY_TOKEN": token]))
            #expect(run.exitCode == 1, "a refused file fails the run")
            let lines = run.standardOutput.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(lines.count == 2)
            #expect(lines.first?["state"] as? String == "done" && (lines.first?["job"] as? String)?.count == 6)
            #expect((lines.last?["error"] as? String)?.hasPrefix("415") == true)
            let missing = try await ChildProcess.runOffPool([ChildProcess.botgateway, "submit", "x.png", "--url", "http://127.0.0.1:\(gateway.port)"],
                                                            environment: ChildProcess.environment())
            #expect(missing.exitCode == 2 && missing.standardError.contains("BOTGATEWAY_TOKEN"))
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("a group's consolidated report, and the contract served as it is in the repository")
    func groupReportAndContract() async throws {
        let gateway = try await GatewayHarness.start()
        do {
            let token = try await Self.token(gateway, "grouper")
            var codes: [String] = [], group: Int?
            for name in ["invoice.png", "letter.png"] {
                let reply = try await Self.upload(gateway, try GatewayHarness.fixture(name), name: name, token: token, query: "group=q1")
                let job = try #require(reply.json["job"] as? [String: Any])
                codes.append(try #require(job["code"] as? String))
                group = job["group_id"] as? Int
            }
            let id = try #require(group)
            for code in codes { _ = try await Self.finished(gateway, code, token: token) }
            let report = try await Self.call(gateway, "/api/v1/groups/\(id)/report", token: token)
            #expect(report.status == 200 && report.header("Content-Type")?.hasPrefix("text/markdown") == true)
            #expect(report.text.contains("invoice.png") && report.text.contains("letter.png"))
            #expect(report.header("X-Documents-Pending") == "0")
            let stranger = try await Self.token(gateway, "stranger")
            #expect(try await Self.call(gateway, "/api/v1/groups/\(id)/report", token: stranger).status == 404)

            let served = try await Self.call(gateway, "/api/v1/openapi.yaml", token: nil)
            let file = try String(contentsOf: GatewayHarness.root.appendingPathComponent("openapi.yaml"), encoding: .utf8)
            #expect(served.status == 200 && served.text == file, "openapi.yaml changed: run scripts/generate-openapi")
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }
}
