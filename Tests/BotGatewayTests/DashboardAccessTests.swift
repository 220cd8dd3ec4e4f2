@testable import BotGateway
import Foundation
import Storage
import Testing
import TestSupport
import UseCases

/// The dashboard's sessions and links as pure rules (`DashboardAccess`), and `botgateway dashboard-link` as the
/// first admin runs it.
@Suite("Dashboard access")
struct DashboardAccessTests {
    static func access(_ folder: URL, baseURL: String = "http://127.0.0.1:8080", key: Data = Data(repeating: 7, count: 32)) throws -> (DashboardAccess, AppDatabase) {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = try AppDatabase(path: folder.appendingPathComponent("botgateway.sqlite").path)
        let whitelist = StoreWhitelistService(adminIDs: [1], store: database)
        return (DashboardAccess(store: database, whitelist: whitelist, key: key, baseURL: baseURL, sessionLifetime: 3600), database)
    }

    @Test("a session cookie is ours only unaltered, unexpired and signed with our key; its CSRF token is its own; Secure only behind https")
    func sessions() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-access-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (access, _) = try Self.access(folder)
        let link = try await access.signInLink(for: 1, now: 1_000)
        #expect(link.hasPrefix("http://127.0.0.1:8080/admin/signin?t="))
        let token = try #require(link.components(separatedBy: "t=").last)
        let (session, cookie) = try await access.signIn(token: token, now: 1_100)
        #expect(session.userID == 1 && session.expiresAt == 4_700)
        #expect(try await access.session(cookie: cookie, now: 4_699) == session)
        #expect(try await access.session(cookie: cookie, now: 4_700) == nil, "expired")
        // Any change to the cookie, or another key, and it is not ours.
        var altered = cookie.split(separator: ".").map(String.init)
        altered[2] = "999999999"
        #expect(try await access.session(cookie: altered.joined(separator: "."), now: 1_200) == nil)
        #expect(try await access.session(cookie: cookie + "x", now: 1_200) == nil)
        let (otherKey, _) = try Self.access(folder.appendingPathComponent("other"), key: Data(repeating: 8, count: 32))
        #expect(try await otherKey.session(cookie: cookie, now: 1_200) == nil)
        // The CSRF token belongs to this session.
        let csrf = access.csrfToken(for: session)
        #expect(access.checkCSRF(csrf, for: session))
        #expect(!access.checkCSRF(nil, for: session) && !access.checkCSRF("", for: session) && !access.checkCSRF(String(csrf.dropLast()), for: session))
        let (second, _) = try await access.signIn(token: try #require(try await access.signInLink(for: 1, now: 1_000).components(separatedBy: "t=").last),
                                                  now: 1_100)
        #expect(!access.checkCSRF(csrf, for: second))
        #expect(!access.secureCookies)
        #expect(try Self.access(folder.appendingPathComponent("tls"), baseURL: "https://bot.example.com/").0.secureCookies)
    }

    @Test("botgateway dashboard-link prints a link under BOT_PUBLIC_URL for the first admin that signs in once; a non-admin or no admin gets none")
    func commandLine() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-link-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func run(_ arguments: [String], admins: String?) async throws -> ChildProcess.Outcome {
            try await ChildProcess.runOffPool([ChildProcess.botgateway, "dashboard-link"] + arguments, environment: ChildProcess.environment([
                "BOT_DATA_DIR": folder.path, "BOT_ADMIN_IDS": admins, "BOT_PUBLIC_URL": "https://bot.example.com",
            ]))
        }
        let made = try await run([], admins: "42,7")
        #expect(made.exitCode == 0, "\(made.standardError)")
        let link = made.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(link.hasPrefix("https://bot.example.com/admin/signin?t="))
        // What serve would do with it: the same store, the data folder's key.
        let database = try AppDatabase(path: folder.appendingPathComponent("botgateway.sqlite").path)
        let key = try CallbackSigner.load(secret: nil, dataDirectory: folder).derivedKey(for: "dashboard-session")
        let access = DashboardAccess(store: database, whitelist: StoreWhitelistService(adminIDs: [7, 42], store: database), key: key,
                                     baseURL: "https://bot.example.com")
        let token = try #require(link.components(separatedBy: "t=").last)
        #expect(try await access.signIn(token: token).session.userID == 7, "the first admin is the lowest id")
        await #expect(throws: DashboardAccess.Refusal.linkUsed) { _ = try await access.signIn(token: token) }

        let stranger = try await run(["--user", "5"], admins: "42")
        #expect(stranger.exitCode == 1 && stranger.standardError.contains("admins only") && stranger.standardOutput.isEmpty)
        let nobody = try await run([], admins: nil)
        #expect(nobody.exitCode == 1 && nobody.standardError.contains("BOT_ADMIN_IDS"))
    }
}
