@testable import BotGateway
import Foundation
import Storage
import Synchronization
import Testing
import TestSupport
import UseCases

/// The API's small parts on their own: the multipart reader, the token bucket, times and cursors, and tokens
/// as the CLI makes them.
@Suite("HTTP API parts")
struct APIUnitTests {
    @Test("multipart: fields, the file part's exact bytes, quoted names; malformed bodies refused")
    func multipart() throws {
        let file = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x2D, 0x2D, 0x0D, 0x0A])
        var body = Data("preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"group\"\r\n\r\nq1 report\r\n".utf8)
        body += Data("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan \\\"1\\\".png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
        body += file + Data("\r\n--XyZ--\r\nepilogue".utf8)
        #expect(MultipartForm.boundary(contentType: "multipart/form-data; charset=utf-8; boundary=\"XyZ\"") == "XyZ")
        #expect(MultipartForm.boundary(contentType: "application/json") == nil)
        let form = try MultipartForm.parse(body, boundary: "XyZ")
        #expect(form.fields == ["group": "q1 report"])
        let part = try #require(form.file)
        #expect(part.filename == "scan \"1\".png" && part.contentType == "image/png")
        #expect(body[part.range] == file)
        for broken in ["no boundary here", "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
                       "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--", "--XyZ garbage"] {
            #expect(throws: MultipartForm.Failure.self) { _ = try MultipartForm.parse(Data(broken.utf8), boundary: "XyZ") }
        }
        let many = (0...MultipartForm.maxFields).map { "--XyZ\r\nContent-Disposition: form-data; name=\"f\($0)\"\r\n\r\nv\r\n" }.joined() + "--XyZ--"
        #expect(throws: MultipartForm.Failure.self) { _ = try MultipartForm.parse(Data(many.utf8), boundary: "XyZ") }
    }

    @Test("the token bucket: a burst of twice the rate, then one per 1/rate seconds, each token its own")
    func tokenBucket() {
        let now = Mutex<Double>(100)
        let limiter = RateLimiter(clock: { now.withLock { $0 } })
        #expect((0..<4).map { _ in limiter.take(1, rate: 2) }.allSatisfy { $0 == nil })
        let wait = limiter.take(1, rate: 2)
        #expect(wait != nil && abs((wait ?? 0) - 0.5) < 0.001)
        #expect(limiter.take(2, rate: 2) == nil)
        now.withLock { $0 += 0.5 }
        #expect(limiter.take(1, rate: 2) == nil)
        #expect(limiter.take(1, rate: 2) != nil)
        now.withLock { $0 += 60 }
        #expect((0..<4).map { _ in limiter.take(1, rate: 2) }.allSatisfy { $0 == nil })
    }

    @Test("RFC 3339 times with offsets and fractions; anything else refused; cursors round-trip")
    func timesAndCursors() {
        #expect(APIController.parseTime("2026-11-24T03:00:00Z") == 1_795_489_200)
        #expect(APIController.parseTime("2026-11-24T03:00:00.5Z") == 1_795_489_200.5)
        #expect(APIController.parseTime("2026-11-24T05:30:00+02:30") == 1_795_489_200)
        #expect(APIController.parseTime("1975-09-19T21:50:20-19:50") == APIController.parseTime("1975-09-20T17:40:20Z"))
        for bad in ["", "2026-11-24", "2026-02-30T00:00:00Z", "2026-11-24T24:00:00Z", "2026-11-24T03:00:00", "1795489200", "2026-11-24T03:00:00+2:00"] {
            #expect(APIController.parseTime(bad) == nil, "\(bad)")
        }
        #expect(APIController.decodeCursor(APIController.encodeCursor(42)) == 42)
        for bad in ["", "0", "-1", "1e3", "１２", "9999999999999999999"] { #expect(APIController.decodeCursor(bad) == nil, "\(bad)") }
        #expect(APIController.isLanguageTag("pt-BR") && APIController.isLanguageTag("de") && !APIController.isLanguageTag("12345"))
    }

    @Test("the callback signing key: made once (0600) and kept, the same for every process; API_CALLBACK_SECRET wins")
    func signingKey() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("signing-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let token = APITokenRecord(name: "t", tokenHash: APITokenService.hash("bgw_x"), hint: "bgw_", scopes: [.read], createdAt: 0)
        let made = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try CallbackSigner.load(secret: nil, dataDirectory: folder).signingSecret(for: token) } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(made.count == 1)
        #expect(try CallbackSigner.load(secret: nil, dataDirectory: folder).signingSecret(for: token) == made.first)
        let attributes = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(CallbackSigner.keyFile).path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == [CallbackSigner.keyFile])
        let configured = try CallbackSigner.load(secret: "cluster-wide-secret", dataDirectory: folder).signingSecret(for: token)
        #expect(configured != made.first && configured.hasPrefix("whsec_"))
        let other = APITokenRecord(name: "u", tokenHash: APITokenService.hash("bgw_y"), hint: "bgw_", scopes: [.read], createdAt: 0)
        #expect(try CallbackSigner.load(secret: nil, dataDirectory: folder).signingSecret(for: other) != made.first)
    }

    /// A spent daily quota comes back at midnight UTC: the day the quota counts in and the Retry-After of a refusal
    /// are one reckoning.
    @Test("a quota's day is the UTC day; it is back after the seconds left until the next one")
    func quotaDay() {
        let noon: Timestamp = 20_000 * 86_400 + 43_200
        #expect(APIUsage.day(of: noon) == 20_000 && APIUsage.day(of: noon + 43_199.5) == 20_000 && APIUsage.day(of: noon + 43_200) == 20_001)
        #expect(APIUsage.secondsUntilNextDay(after: noon) == 43_200)
        #expect(APIUsage.secondsUntilNextDay(after: noon + 43_199.2) == 1)
        #expect(APIUsage.secondsUntilNextDay(after: noon + 43_199.9) == 1)
        #expect(APIUsage.secondsUntilNextDay(after: 20_001 * 86_400) == 86_400)
    }

    @Test("a token is shown once and kept only as its hash: the database file never holds it")
    func tokensStoredHashed() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let environment = ChildProcess.environment(["BOT_DATA_DIR": folder.path])
        let created = try await ChildProcess.runOffPool([ChildProcess.botgateway, "tokens", "create", "ci-upload", "--scope", "upload", "--daily-quota", "50"],
                                                        environment: environment)
        #expect(created.exitCode == 0, "\(created.standardError)")
        let lines = created.standardOutput.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let secret = try #require(lines.first { $0.hasPrefix("bgw_") })
        let signing = try #require(lines.first { $0.hasPrefix("whsec_") })
        #expect(secret.count >= 40)
        let duplicate = try await ChildProcess.runOffPool([ChildProcess.botgateway, "tokens", "create", "ci-upload"], environment: environment)
        #expect(duplicate.exitCode != 0 && duplicate.standardError.contains("exists"))
        let badScope = try await ChildProcess.runOffPool([ChildProcess.botgateway, "tokens", "create", "x", "--scope", "root"], environment: environment)
        #expect(badScope.exitCode != 0)

        let listed = try await ChildProcess.runOffPool([ChildProcess.botgateway, "tokens", "list"], environment: environment)
        #expect(listed.standardOutput.contains("ci-upload") && listed.standardOutput.contains("50 docs/day"))
        #expect(!listed.standardOutput.contains(secret))
        // Neither secret is anywhere in the data folder (database, WAL, key file).
        for file in try FileManager.default.subpathsOfDirectory(atPath: folder.path) {
            let bytes = (try? Data(contentsOf: folder.appendingPathComponent(file))) ?? Data()
            #expect(bytes.range(of: Data(secret.utf8)) == nil && bytes.range(of: Data(signing.utf8)) == nil, "\(file) holds a secret")
        }
        let database = try AppDatabase(path: folder.appendingPathComponent("botgateway.sqlite").path)
        #expect(try await APITokenService(store: database).authenticate(secret)?.name == "ci-upload")
        #expect(try await APITokenService(store: database).authenticate(secret + "x") == nil)

        let revoked = try await ChildProcess.runOffPool([ChildProcess.botgateway, "tokens", "revoke", "ci-upload"], environment: environment)
        #expect(revoked.exitCode == 0)
        #expect(try await APITokenService(store: database).authenticate(secret) == nil)
        let again = try await ChildProcess.runOffPool([ChildProcess.botgateway, "tokens", "revoke", "ci-upload"], environment: environment)
        #expect(again.exitCode != 0 && again.standardError.contains("no live token"))
    }
}
