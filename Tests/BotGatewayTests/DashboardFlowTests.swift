@testable import BotGateway
import CurlHTTP
import Foundation
import Storage
import Testing
import TestSupport
import UseCases

/// The dashboard over HTTP against the whole gateway in-process: sign-in through a `/dashboard` link and its
/// refusals, the session cookie's attributes, CSRF, the security headers, and the pages' changes. (What a
/// browser sees and runs is `DashboardBrowserTests`.)
@Suite("Dashboard over HTTP", .serialized)
struct DashboardFlowTests {
    struct Reply {
        var status: Int
        var text: String
        var headers: [(name: String, value: String)]
        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
        func headers(_ name: String) -> [String] { headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value) }
    }

    static func call(_ gateway: GatewayHarness, _ path: String, method: String = "GET", cookie: String? = nil, form: [(String, String)]? = nil,
                     origin: String? = nil) async throws -> Reply {
        var headers: [(name: String, value: String)] = []
        if let origin { headers.append(("Origin", origin)) }
        if let cookie { headers.append(("Cookie", "\(DashboardAccess.cookieName)=\(cookie)")) }
        var body: HTTPClientRequest.Body = .none
        if let form {
            var components = URLComponents()
            components.queryItems = form.map { URLQueryItem(name: $0.0, value: $0.1) }
            let encoded = (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
            body = .data(Data(encoded.utf8))
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        }
        let response = try await gateway.http.send(HTTPClientRequest(method: method, url: "http://127.0.0.1:\(gateway.port)\(path)", headers: headers, body: body))
        return Reply(status: response.status, text: String(decoding: response.body, as: UTF8.self), headers: response.headers)
    }

    /// `body`'s first non-nil answer, within 20 seconds.
    static func waitFor<T>(_ body: () async throws -> T?) async throws -> T {
        for _ in 0..<200 {
            if let value = try await body() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CancellationError()
    }

    /// The link's token, from what the bot sent `chat` after `/dashboard`.
    static func linkToken(_ gateway: GatewayHarness, chat: Int64, after count: Int = 0) async throws -> String {
        let sent = try await Self.waitFor {
            let messages = gateway.telegram.messages(to: chat)
            return messages.count > count ? messages.last : nil
        }
        let text = (try? TelegramText.parse(sent.text).get()) ?? sent.text
        let token = text.components(separatedBy: "/admin/signin?t=").last?.split(whereSeparator: { $0.isWhitespace }).first.map(String.init)
        return try #require(token, "no link in \(text)")
    }

    /// Signs in with a fresh `/dashboard` link of `user`; the session cookie's value.
    static func signIn(_ gateway: GatewayHarness, user: Int64 = 1, update: Int64 = 900) async throws -> String {
        let before = gateway.telegram.messages(to: user).count
        try await gateway.post(Updates.text(update: update, user: user, message: update, "/dashboard"))
        let token = try await linkToken(gateway, chat: user, after: before)
        let reply = try await call(gateway, "/admin/signin", method: "POST", form: [("t", token)])
        #expect(reply.status == 303)
        let cookie = try #require(reply.header("Set-Cookie"))
        return try #require(cookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last.map(String.init))
    }

    static func csrf(in page: String) throws -> String {
        let marker = #"name="csrf" value=""#
        let start = try #require(page.range(of: marker)).upperBound
        return String(page[start...].prefix { $0 != "\"" })
    }

    @Test("a /dashboard link signs in once: its page uses nothing, the POST sets an HttpOnly SameSite=Strict cookie; used again it is refused")
    func signInOnce() async throws {
        let gateway = try await GatewayHarness.start()
        do {
            try await gateway.post(Updates.text(update: 1, user: 1, message: 1, "/dashboard"))
            let token = try await Self.linkToken(gateway, chat: 1)
            #expect(gateway.telegram.messages(to: 1).last?.text.contains("works once, for 10 minutes") == true)
            // Opening the link (or a preview fetching it) does not use it up.
            for _ in 0..<2 {
                let page = try await Self.call(gateway, "/admin/signin?t=\(token)")
                #expect(page.status == 200 && page.text.contains(#"<button type="submit">Sign in</button>"#))
                #expect(page.header("Referrer-Policy") == "same-origin")
            }
            let signedIn = try await Self.call(gateway, "/admin/signin", method: "POST", form: [("t", token)])
            #expect(signedIn.status == 303 && signedIn.header("Location") == "/admin?notice=signed-in")
            let cookie = try #require(signedIn.header("Set-Cookie"))
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/admin") && cookie.contains("Max-Age=43200"))
            #expect(!cookie.contains("Secure"), "plain http here: a Secure cookie would never come back")
            let session = try #require(cookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last.map(String.init))
            let overview = try await Self.call(gateway, "/admin", cookie: session)
            #expect(overview.status == 200 && overview.text.contains("Queue by step") && overview.text.contains("<svg class=\"chart\""))
            let policy = try #require(overview.header("Content-Security-Policy"))
            #expect(policy.contains("script-src 'none'") && policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"))
            #expect(overview.header("X-Frame-Options") == "DENY" && overview.header("Cache-Control") == "no-store")

            let again = try await Self.call(gateway, "/admin/signin", method: "POST", form: [("t", token)])
            #expect(again.status == 403 && again.text.contains("used already") && again.header("Set-Cookie") == nil)
            let forged = try await Self.call(gateway, "/admin/signin", method: "POST", form: [("t", "made-up")])
            #expect(forged.status == 403 && forged.text.contains("not valid"))
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("behind https (BOT_PUBLIC_URL) the session cookie is Secure, and the link starts with the public address")
    func secureBehindTLS() async throws {
        let gateway = try await GatewayHarness.start(publicURL: "https://bot.example.com")
        do {
            try await gateway.post(Updates.text(update: 1, user: 1, message: 1, "/dashboard"))
            let token = try await Self.linkToken(gateway, chat: 1)
            #expect(gateway.telegram.messages(to: 1).last?.text.contains("https://bot.example.com/admin/signin?t=\(token)") == true)
            let signedIn = try await Self.call(gateway, "/admin/signin", method: "POST", form: [("t", token)])
            #expect(signedIn.status == 303)
            let cookie = try #require(signedIn.header("Set-Cookie"))
            #expect(cookie.hasSuffix("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("refused: an expired link, a non-admin's /dashboard and link, no or a forged cookie, a demoted admin's session")
    func refusals() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        do {
            let access = try #require(gateway.dashboard)
            // Expired: made 11 minutes ago.
            let old = try await access.signInLink(for: 1, now: Date().timeIntervalSince1970 - 660)
            let oldToken = try #require(old.components(separatedBy: "t=").last)
            let expired = try await Self.call(gateway, "/admin/signin", method: "POST", form: [("t", oldToken)])
            #expect(expired.status == 403 && expired.text.contains("expired"))
            // A user who is not an admin gets no link from the bot, and no link is made for them.
            try await gateway.database.allow(userID: 5, role: .user, addedBy: 1)
            try await gateway.post(Updates.text(update: 2, user: 5, message: 2, "/dashboard"))
            let answer = try await Self.waitFor { gateway.telegram.messages(to: 5).last }
            #expect(answer.text == "Not allowed.")
            await #expect(throws: DashboardAccess.Refusal.notAdmin) { _ = try await access.signInLink(for: 5) }
            // A link for someone who stopped being an admin before using it.
            try await gateway.database.allow(userID: 6, role: .admin, addedBy: 1)
            let link = try await access.signInLink(for: 6)
            try await gateway.database.allow(userID: 6, role: .user, addedBy: 1)
            let demoted = try await Self.call(gateway, "/admin/signin", method: "POST", form: [("t", try #require(link.components(separatedBy: "t=").last))])
            #expect(demoted.status == 403 && demoted.text.contains("admins only"))
            // A session of an admin who is then removed stops working at once.
            try await gateway.database.allow(userID: 7, role: .admin, addedBy: 1)
            let session = try await Self.signIn(gateway, user: 7, update: 3)
            #expect(try await Self.call(gateway, "/admin/jobs", cookie: session).status == 200)
            _ = try await gateway.database.deny(userID: 7)
            #expect(try await Self.call(gateway, "/admin/jobs", cookie: session).status == 401)
            // No cookie, and a cookie with another user's id under the same signature.
            #expect(try await Self.call(gateway, "/admin/jobs").status == 401)
            let mine = try await Self.signIn(gateway, user: 1, update: 4)
            var parts = mine.split(separator: ".").map(String.init)
            parts[1] = "6"
            #expect(try await Self.call(gateway, "/admin/jobs", cookie: parts.joined(separator: ".")).status == 401)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("a change needs the session's CSRF token: none or another session's is refused; with it the pipeline pauses and resumes")
    func csrf() async throws {
        let gateway = try await GatewayHarness.start(admins: [1, 2])
        do {
            let session = try await Self.signIn(gateway, user: 1, update: 1)
            let other = try await Self.signIn(gateway, user: 2, update: 2)
            let token = try Self.csrf(in: try await Self.call(gateway, "/admin", cookie: session).text)
            let otherToken = try Self.csrf(in: try await Self.call(gateway, "/admin", cookie: other).text)
            let missing = try await Self.call(gateway, "/admin/pipeline", method: "POST", cookie: session, form: [("action", "pause")])
            #expect(missing.status == 403 && missing.text.contains("Form expired"))
            let foreign = try await Self.call(gateway, "/admin/pipeline", method: "POST", cookie: session, form: [("csrf", otherToken), ("action", "pause")])
            #expect(foreign.status == 403)
            // The right token, sent by a page of another site.
            let elsewhere = try await Self.call(gateway, "/admin/pipeline", method: "POST", cookie: session, form: [("csrf", token), ("action", "pause")],
                                                origin: "https://evil.example")
            #expect(elsewhere.status == 403)
            #expect(try await gateway.database.pipelinePaused() == false)
            let paused = try await Self.call(gateway, "/admin/pipeline", method: "POST", cookie: session, form: [("csrf", token), ("action", "pause")],
                                             origin: "http://127.0.0.1:\(gateway.port)")
            #expect(paused.status == 303 && paused.header("Location") == "/admin?notice=paused")
            #expect(try await gateway.database.pipelinePaused())
            #expect(try await Self.call(gateway, "/admin?notice=paused", cookie: session).text.contains("The pipeline is paused"))
            _ = try await Self.call(gateway, "/admin/pipeline", method: "POST", cookie: session, form: [("csrf", token), ("action", "resume")])
            #expect(try await gateway.database.pipelinePaused() == false)
            // Signing out clears the cookie (and needs the token too).
            let out = try await Self.call(gateway, "/admin/signout", method: "POST", cookie: session, form: [("csrf", token)])
            #expect(out.status == 200 && out.header("Set-Cookie")?.contains("Max-Age=0") == true)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("jobs: filtered pages, a confirmation with the count, bulk cancel and retry; users: allow, promote, remove by the bot's rules")
    func jobsAndUsers() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        do {
            let session = try await Self.signIn(gateway)
            let token = try Self.csrf(in: try await Self.call(gateway, "/admin", cookie: session).text)
            try await gateway.database.setPipelinePaused(true, by: 1, now: .now)
            let apiToken = try await APITokenService(store: gateway.database).create(name: "scanner", scopes: [.upload, .read]).secret
            for name in ["invoice.png", "letter.png"] {
                let reply = try await APIFlowTests.upload(gateway, try GatewayHarness.fixture(name), name: name, token: apiToken, query: "group=week-1")
                #expect(reply.status == 202)
            }
            let list = try await Self.call(gateway, "/admin/jobs?origin=api&state=queued", cookie: session)
            #expect(list.status == 200 && list.text.contains("2 jobs match.") && list.text.contains("invoice.png") && list.text.contains("letter.png"))
            #expect(try await Self.call(gateway, "/admin/jobs?origin=telegram", cookie: session).text.contains("0 jobs match."))
            let filter = [("origin", "api")]
            let question = try await Self.call(gateway, "/admin/jobs/bulk", method: "POST", cookie: session,
                                               form: [("csrf", token), ("action", "cancel")] + filter)
            #expect(question.status == 200 && question.text.contains("Cancel 2 queued or running jobs matching this filter?"))
            #expect(try await gateway.database.countJobs(JobFilter(state: .queued)) == 2, "nothing changes before the confirmation")
            let done = try await Self.call(gateway, "/admin/jobs/bulk", method: "POST", cookie: session,
                                           form: [("csrf", token), ("action", "cancel"), ("confirm", "2")] + filter)
            #expect(done.status == 303 && done.header("Location") == "/admin/jobs?origin=api&notice=bulk-cancelled")
            #expect(try await gateway.database.countJobs(JobFilter(state: .failed)) == 2)
            let failed = try #require(try await gateway.database.jobRows(JobFilter(state: .failed), beforeID: nil, limit: 1).first)
            let page = try await Self.call(gateway, "/admin/jobs/\(failed.job.code)", cookie: session)
            #expect(page.text.contains("Cancelled by an admin on the dashboard.") && page.text.contains("Retry this job"))
            try await gateway.database.setPipelinePaused(false, by: 1, now: .now)
            let retried = try await Self.call(gateway, "/admin/jobs/bulk", method: "POST", cookie: session,
                                              form: [("csrf", token), ("action", "retry"), ("confirm", "2")] + filter)
            #expect(retried.status == 303)
            for code in try await gateway.database.jobRows(JobFilter(), beforeID: nil, limit: 10).map(\.job.code) {
                let job = try await APIFlowTests.finished(gateway, code, token: apiToken)
                #expect(job["state"] as? String == "done")
            }

            let added = try await Self.call(gateway, "/admin/users", method: "POST", cookie: session, form: [("csrf", token), ("action", "allow"), ("id", "55")])
            #expect(added.header("Location") == "/admin/users?notice=allowed")
            _ = try await Self.call(gateway, "/admin/users", method: "POST", cookie: session, form: [("csrf", token), ("action", "promote"), ("id", "55")])
            #expect(try await gateway.database.users().first { $0.id == 55 }?.role == .admin)
            let me = try await Self.call(gateway, "/admin/users", method: "POST", cookie: session, form: [("csrf", token), ("action", "deny"), ("id", "1")])
            #expect(me.header("Location") == "/admin/users?notice=self")
            _ = try await Self.call(gateway, "/admin/users", method: "POST", cookie: session, form: [("csrf", token), ("action", "deny"), ("id", "55")])
            #expect(try await gateway.database.users().contains { $0.id == 55 } == false)
            let users = try await Self.call(gateway, "/admin/users?notice=removed", cookie: session)
            #expect(users.text.contains("Removed.") && users.text.contains("(BOT_ADMIN_IDS)"))
            let costs = try await Self.call(gateway, "/admin/costs?days=7", cookie: session)
            #expect(costs.status == 200 && costs.text.contains("Per model"))
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }
}
