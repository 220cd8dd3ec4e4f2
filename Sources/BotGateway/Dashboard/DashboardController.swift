import Foundation
import Hummingbird
import Logging
import NIOCore
import Plugins
import Storage
import UseCases

/// `/admin`: server-rendered pages for admins, on the same services and store as the bot and the API. Thin:
/// each handler checks the session (and, for a change, its CSRF token), calls the store or a use case, and
/// renders a template. Works without JavaScript; the pages carry none.
final class DashboardController: Sendable {
    let access: DashboardAccess
    let store: any GatewayStore
    let jobs: any JobService
    let whitelist: any WhitelistService
    let blobs: BlobStore
    let steps: [String]
    let answerStep: String
    let dataDirectory: URL
    let ocrQueueDepth: @Sendable () -> Int
    /// Documents as searchable PDFs (nil: `SEARCHABLE_PDF=false`, no link).
    let pdfs: SearchablePDFs?
    let logger: Logger

    static let pageSize = 50

    init(access: DashboardAccess, store: any GatewayStore, jobs: any JobService, whitelist: any WhitelistService, blobs: BlobStore, steps: [String],
         answerStep: String, dataDirectory: URL, ocrQueueDepth: @escaping @Sendable () -> Int, pdfs: SearchablePDFs? = nil, logger: Logger) {
        self.access = access
        self.store = store
        self.jobs = jobs
        self.whitelist = whitelist
        self.blobs = blobs
        self.steps = steps
        self.answerStep = answerStep
        self.dataDirectory = dataDirectory
        self.ocrQueueDepth = ocrQueueDepth
        self.pdfs = pdfs
        self.logger = logger
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        let admin = router.group("admin").add(middleware: DashboardHeaders())
        admin.get("static/dashboard.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardTemplates.stylesheet)))
        }
        admin.get("signin") { [self] request, _ in signInPage(request) }
        admin.post("signin") { [self] request, _ in try await signIn(request) }
        admin.post("signout") { [self] request, _ in try await changing(request) { _, _ in signOut() } }
        admin.get("") { [self] request, _ in try await reading(request) { try await overview($0, request) } }
        admin.post("pipeline") { [self] request, _ in try await changing(request) { try await pipeline($0, $1) } }
        admin.get("jobs") { [self] request, _ in try await reading(request) { try await jobList($0, request) } }
        admin.post("jobs/bulk") { [self] request, _ in try await changing(request) { try await bulk($0, $1) } }
        admin.get("jobs/:code") { [self] request, context in try await reading(request) { try await job($0, request, context) } }
        admin.post("jobs/:code/retry") { [self] request, context in try await changing(request) { session, _ in try await retry(session, context) } }
        admin.get("documents") { [self] request, _ in try await reading(request) { try await documents($0, request) } }
        admin.get("documents/:sha") { [self] request, context in try await reading(request) { try await document($0, request, context) } }
        admin.get("documents/:sha/searchable.pdf") { [self] request, context in
            try await reading(request) { _ in try await searchablePDF(context) }
        }
        admin.get("documents/:sha/original") { [self] request, context in
            try await reading(request) { _ in try await original(request, context) }
        }
        admin.get("documents/:sha/export.csv") { [self] request, context in try await reading(request) { _ in try await exportRow(context) } }
        admin.get("costs") { [self] request, _ in try await reading(request) { try await costs($0, request) } }
        admin.get("users") { [self] request, _ in try await reading(request) { try await users($0, request) } }
        admin.post("users") { [self] request, _ in try await changing(request) { try await changeUser($0, $1) } }
    }

    // MARK: Sessions and forms

    /// A page for a signed-in admin; anyone else is told how to sign in.
    private func reading(_ request: Request, _ page: (DashboardAccess.Session) async throws -> Response) async throws -> Response {
        guard let session = try await access.session(cookie: request.cookies[DashboardAccess.cookieName]?.value) else {
            return message(status: .unauthorized, title: "Sign in", text: "Send /dashboard to the bot for a sign-in link (admins only).")
        }
        return try await page(session)
    }

    /// A change by a signed-in admin whose form carries this session's CSRF token.
    private func changing(_ request: Request, _ change: (DashboardAccess.Session, FormFields) async throws -> Response) async throws -> Response {
        guard let session = try await access.session(cookie: request.cookies[DashboardAccess.cookieName]?.value) else {
            return message(status: .forbidden, title: "Not signed in", text: "Send /dashboard to the bot for a sign-in link (admins only).")
        }
        let form = try await FormFields.read(request)
        guard !fromElsewhere(request), access.checkCSRF(form["csrf"], for: session) else {
            logger.warning("dashboard change refused: missing or wrong CSRF token", metadata: ["user": "\(session.userID)", "path": "\(request.uri.path)"])
            return message(status: .forbidden, title: "Form expired",
                           text: "This form is not from your current session (or has expired). Reload the page and try again.")
        }
        return try await change(session, form)
    }

    /// A browser names the page a form was sent from (`Origin`); one from another site is refused, a third lock
    /// beside the `SameSite=Strict` cookie and the CSRF token. Our own pages are this server as its `Host` header
    /// names it, or `BOT_PUBLIC_URL` (behind a proxy that rewrites `Host`). No `Origin` (not a browser): the
    /// token decides.
    private func fromElsewhere(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin]?.lowercased() else { return false }
        if origin == access.baseURL.lowercased() { return false }
        guard let host = request.head.authority?.lowercased(), let url = URL(string: origin), let originHost = url.host?.lowercased() else { return true }
        return originHost + (url.port.map { ":\($0)" } ?? "") != host
    }

    private func page<Body>(_ title: String, _ body: Body, session: DashboardAccess.Session?, section: String?, notice: String? = nil,
                            paused: Bool = false, status: HTTPResponse.Status = .ok, template: String) -> Response {
        let view = DashboardViews.Page(title: title, signedIn: session != nil, csrf: session.map(access.csrfToken) ?? "",
                                       nav: DashboardViews.navigation(current: section), notice: notice, paused: paused, body: body)
        return Self.html(DashboardTemplates.render(view, template), status: status)
    }

    private func message(status: HTTPResponse.Status, title: String, text: String, session: DashboardAccess.Session? = nil,
                         link: (String, String)? = nil) -> Response {
        page(title, DashboardViews.Message(text: text, link: link?.0, linkLabel: link?.1), session: session, section: nil, status: status,
             template: "message")
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// Notices after a change come back as a code, never as text from the request.
    static let notices: [String: String] = [
        "paused": "The pipeline is paused.", "resumed": "The pipeline runs again.", "retried": "The job is queued again.",
        "bulk-retried": "The failed jobs are queued again.", "bulk-cancelled": "The jobs are cancelled.", "allowed": "Added.",
        "already-admin": "That user is an admin already.", "removed": "Removed.", "promoted": "Now an admin.", "not-listed": "That user was not on the list.",
        "self": "Nobody removes themselves; another admin can.", "configured": "Admins from BOT_ADMIN_IDS are removed only there.",
        "bad-user": "A Telegram user id is a positive number.", "signed-in": "Signed in.",
    ]

    private func notice(_ request: Request) -> String? {
        request.uri.queryParameters.get("notice").flatMap { Self.notices[$0] }
    }

    // MARK: Sign-in

    private func signInPage(_ request: Request) -> Response {
        // Showing the link's page uses nothing: link previews and scanners that fetch it leave it valid.
        let token = request.uri.queryParameters.get("t") ?? ""
        guard !token.isEmpty, token.count <= 100 else {
            return message(status: .badRequest, title: "Sign in", text: "Send /dashboard to the bot for a sign-in link (admins only).")
        }
        return page("Sign in", DashboardViews.SignIn(token: token), session: nil, section: nil, template: "signin")
    }

    private func signIn(_ request: Request) async throws -> Response {
        guard !fromElsewhere(request) else {
            return message(status: .forbidden, title: "Sign-in refused", text: "Sign in from the link's own page.")
        }
        let form = try await FormFields.read(request)
        do {
            let (session, cookie) = try await access.signIn(token: form["t"] ?? "")
            logger.info("dashboard sign-in", metadata: ["user": "\(session.userID)"])
            var response = Self.redirect("/admin?notice=signed-in")
            response.headers[values: .setCookie].append(sessionCookie(cookie, maxAge: Int(access.sessionLifetime)))
            return response
        } catch let refusal as DashboardAccess.Refusal {
            logger.warning("dashboard sign-in refused", metadata: ["reason": "\(refusal)"])
            return message(status: .forbidden, title: "Sign-in refused", text: refusal.description)
        }
    }

    private func signOut() -> Response {
        var response = message(status: .ok, title: "Signed out", text: "You are signed out. Send /dashboard to the bot to sign in again.")
        response.headers[values: .setCookie].append(sessionCookie("", maxAge: 0))
        return response
    }

    /// `HttpOnly`, `SameSite=Strict`, only under `/admin`, `Secure` when the public address is https.
    private func sessionCookie(_ value: String, maxAge: Int) -> String {
        "\(DashboardAccess.cookieName)=\(value); Path=/admin; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (access.secureCookies ? "; Secure" : "")
    }

    // MARK: Overview and the pause switch

    private func overview(_ session: DashboardAccess.Session, _ request: Request) async throws -> Response {
        let now = Timestamp.now
        let figures = try await store.overview(now: now)
        let view = DashboardViews.overview(figures, ocrWaiting: ocrQueueDepth(), freeBytes: DiskSpace.available(at: dataDirectory),
                                           csrf: access.csrfToken(for: session), now: now)
        return page("Overview", view, session: session, section: "/admin", notice: notice(request), paused: figures.paused, template: "overview")
    }

    private func pipeline(_ session: DashboardAccess.Session, _ form: FormFields) async throws -> Response {
        let pause = form["action"] == "pause"
        try await store.setPipelinePaused(pause, by: session.userID, now: .now)
        logger.notice(pause ? "pipeline paused from the dashboard" : "pipeline resumed from the dashboard", metadata: ["user": "\(session.userID)"])
        return Self.redirect("/admin?notice=\(pause ? "paused" : "resumed")")
    }

    // MARK: Jobs

    /// The filter the page's query (or a bulk form's fields) names; a value that is not a choice is ignored.
    private func filter(_ value: (String) -> String?) -> JobFilter {
        func nonEmpty(_ name: String) -> String? { value(name).flatMap { $0.isEmpty ? nil : $0 } }
        return JobFilter(state: nonEmpty("state").flatMap(JobState.init(rawValue:)), origin: nonEmpty("origin").flatMap(JobOrigin.init(rawValue:)),
                         step: nonEmpty("step").flatMap { steps.contains($0) ? $0 : nil },
                         userID: nonEmpty("user").flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) },
                         createdFrom: nonEmpty("from").flatMap(Self.dayStart),
                         createdBefore: nonEmpty("to").flatMap(Self.dayStart).map { $0 + 86400 })
    }

    /// `YYYY-MM-DD` → the start of that UTC day.
    static func dayStart(_ text: String) -> Timestamp? {
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return day.date(from: text)?.timeIntervalSince1970
    }

    /// The filter as form fields and query items (kept across pages and into the bulk confirmation).
    private func fields(_ filter: JobFilter) -> [DashboardViews.Hidden] {
        var fields: [DashboardViews.Hidden] = []
        if let state = filter.state { fields.append(.init(name: "state", value: state.rawValue)) }
        if let origin = filter.origin { fields.append(.init(name: "origin", value: origin.rawValue)) }
        if let step = filter.step { fields.append(.init(name: "step", value: step)) }
        if let user = filter.userID { fields.append(.init(name: "user", value: String(user))) }
        if let from = filter.createdFrom { fields.append(.init(name: "from", value: DashboardViews.day(from))) }
        if let before = filter.createdBefore { fields.append(.init(name: "to", value: DashboardViews.day(before - 86400))) }
        return fields
    }

    private func query(_ fields: [DashboardViews.Hidden]) -> String {
        var components = URLComponents()
        components.queryItems = fields.map { URLQueryItem(name: $0.name, value: $0.value) }
        return components.percentEncodedQuery ?? ""
    }

    private func jobList(_ session: DashboardAccess.Session, _ request: Request) async throws -> Response {
        let parameters = request.uri.queryParameters
        let filter = filter { parameters.get($0) }
        let before = parameters.get("before").flatMap { Int64($0) }
        async let rows = store.jobRows(filter, beforeID: before, limit: Self.pageSize)
        async let total = store.countJobs(filter)
        async let paused = store.pipelinePaused()
        let page = try await rows
        let hidden = fields(filter)
        var next: String?
        if page.count == Self.pageSize, let last = page.last?.job.id {
            next = "/admin/jobs?" + query(hidden + [.init(name: "before", value: String(last))])
        }
        let view = DashboardViews.Jobs(
            states: DashboardViews.options([("", "any")] + JobState.allCases.map { ($0.rawValue, $0.rawValue) }, selected: filter.state?.rawValue),
            origins: DashboardViews.options([("", "any"), ("telegram", "telegram"), ("batch", "batch"), ("api", "api")], selected: filter.origin?.rawValue),
            steps: DashboardViews.options([("", "any")] + steps.map { ($0, $0) }, selected: filter.step),
            user: filter.userID.map(String.init) ?? "", from: filter.createdFrom.map(DashboardViews.day) ?? "",
            to: filter.createdBefore.map { DashboardViews.day($0 - 86400) } ?? "", total: try await total, csrf: access.csrfToken(for: session),
            hidden: hidden, rows: page.map(DashboardViews.jobLine), nextPage: next)
        return self.page("Jobs", view, session: session, section: "/admin/jobs", notice: notice(request), paused: try await paused, template: "jobs")
    }

    /// Retry or cancel everything matching a filter: first a page that says how many, then (confirmed) the change.
    private func bulk(_ session: DashboardAccess.Session, _ form: FormFields) async throws -> Response {
        let filter = filter { form[$0] }
        let retry = form["action"] == "retry"
        guard retry || form["action"] == "cancel" else {
            return message(status: .badRequest, title: "Unknown action", text: "Choose retry or cancel.", session: session)
        }
        let hidden = fields(filter)
        let back = "/admin/jobs" + (hidden.isEmpty ? "" : "?" + query(hidden))
        if form["confirm"] != nil {
            let changed: Int
            if retry {
                changed = try await store.retryJobs(filter.only(.failed), now: .now)
            } else {
                changed = try await store.cancelJobs(filter, reason: "Cancelled by an admin on the dashboard.", now: .now)
            }
            logger.notice("dashboard bulk action", metadata: ["user": "\(session.userID)", "action": "\(retry ? "retry" : "cancel")", "jobs": "\(changed)"])
            return Self.redirect(back + (hidden.isEmpty ? "?" : "&") + "notice=\(retry ? "bulk-retried" : "bulk-cancelled")")
        }
        let count: Int
        if retry {
            count = try await store.countJobs(filter.only(.failed))
        } else {
            let queued = filter.state == nil || filter.state == .queued ? try await store.countJobs(filter.only(.queued)) : 0
            let running = filter.state == nil || filter.state == .running ? try await store.countJobs(filter.only(.running)) : 0
            count = queued + running
        }
        let what = retry ? "failed" : "queued or running"
        let view = DashboardViews.Confirm(
            question: count == 0 ? "No \(what) jobs match this filter." : "\(retry ? "Retry" : "Cancel") \(count) \(what) \(count == 1 ? "job" : "jobs") matching this filter?",
            button: "\(retry ? "Retry" : "Cancel") \(count) \(count == 1 ? "job" : "jobs")", action: retry ? "retry" : "cancel", count: count,
            canApply: count > 0, csrf: access.csrfToken(for: session), hidden: hidden, back: back)
        return page("Confirm", view, session: session, section: "/admin/jobs", template: "confirm")
    }

    private func job(_ session: DashboardAccess.Session, _ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let code = try context.parameters.require("code")
        guard let details = try await store.jobDetails(code: code) else {
            return message(status: .notFound, title: "No such job", text: "There is no job \(code).", session: session, link: ("/admin/jobs", "All jobs"))
        }
        let view = DashboardViews.job(details, answerStep: answerStep, csrf: access.csrfToken(for: session))
        return page("Job \(details.job.code)", view, session: session, section: "/admin/jobs", notice: notice(request), template: "job")
    }

    private func retry(_ session: DashboardAccess.Session, _ context: BasicRequestContext) async throws -> Response {
        let code = try context.parameters.require("code")
        do {
            let job = try await jobs.retry(code: code)
            logger.notice("job retried from the dashboard", metadata: ["user": "\(session.userID)", "job": "\(job.code)"])
            return Self.redirect("/admin/jobs/\(job.code)?notice=retried")
        } catch let error as StorageError {
            return message(status: .conflict, title: "Not retried", text: error.description, session: session, link: ("/admin/jobs", "All jobs"))
        }
    }

    // MARK: Documents

    private func documents(_ session: DashboardAccess.Session, _ request: Request) async throws -> Response {
        let words = String((request.uri.queryParameters.get("q") ?? "").prefix(256))
        let hits = words.trimmingCharacters(in: .whitespaces).isEmpty ? [] : try await store.searchDocuments(words, owner: nil, limit: 50)
        let view = DashboardViews.Documents(query: words, searched: !words.isEmpty, count: hits.count, hits: hits.map {
            DashboardViews.Hit(sha: $0.sha256, name: $0.name, code: $0.jobCode, snippet: DashboardViews.highlighted($0.snippet))
        })
        return page("Documents", view, session: session, section: "/admin/documents", template: "documents")
    }

    /// The document and its newest `jobs` jobs (the first names it), for a well-formed hash only.
    private func storedDocument(_ context: BasicRequestContext, jobs limit: Int = 1) async throws -> (DocumentRecord, [JobRecord])? {
        let sha = try context.parameters.require("sha").lowercased()
        guard sha.count == 64, sha.allSatisfy(\.isHexDigit), let document = try await store.document(sha256: sha) else { return nil }
        let jobs = try await store.jobs(matching: JobQuery(documentSHA256: sha), limit: limit)
        return (document, jobs)
    }

    private func document(_ session: DashboardAccess.Session, _ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let (document, jobs) = try await storedDocument(context, jobs: 20), let newest = jobs.first else {
            return message(status: .notFound, title: "No such document", text: "There is no such document.", session: session,
                           link: ("/admin/documents", "Search documents"))
        }
        let details = try await store.jobDetails(code: newest.code)
        let view = DashboardViews.Document(
            sha: document.sha256, format: document.format, size: DashboardViews.bytes(document.size), pages: document.pages.map { $0 == 1 ? "1 page" : "\($0) pages" },
            isImage: document.mimeType.hasPrefix("image/"), isPDF: document.mimeType == "application/pdf",
            offersSearchablePDF: pdfs != nil && document.ocrResult != nil,
            text: document.ocrText ?? "Not read yet.", analysis: details.flatMap { DashboardViews.analysis(DashboardViews.decodedAnalysis($0, answerStep: answerStep)) },
            jobs: jobs.map { DashboardViews.DocumentJob(code: $0.code, name: $0.sourceName, state: $0.state.rawValue, created: DashboardViews.time($0.createdAt)) })
        return page(newest.sourceName, view, session: session, section: "/admin/documents", template: "document")
    }

    private func original(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let (document, jobs) = try await storedDocument(context), let newest = jobs.first else {
            return message(status: .notFound, title: "No such document", text: "There is no such document.")
        }
        let path: String
        do {
            path = try await blobs.checkout(document)
        } catch {
            logger.error("an original could not be read", metadata: ["sha256": "\(document.sha256)", "error": "\(error)"])
            return message(status: .serviceUnavailable, title: "Not available", text: "The document store cannot hand out this document right now.")
        }
        // A PDF is shown by the browser's viewer, which a sandbox would block; an image needs nothing.
        let policy = document.mimeType == "application/pdf" ? "default-src 'none'; object-src 'self'" : "default-src 'none'; img-src 'self'; sandbox"
        return try await OriginalResponse.make(document, at: path, name: newest.sourceName,
                                               disposition: request.uri.queryParameters.get("download") != nil ? "attachment" : "inline",
                                               headers: [.contentSecurityPolicy: policy], context: context)
    }

    /// The document with an invisible text layer, as a download (made now when none was kept).
    private func searchablePDF(_ context: BasicRequestContext) async throws -> Response {
        guard let pdfs, let (document, jobs) = try await storedDocument(context), let newest = jobs.first else {
            return message(status: .notFound, title: "No such document", text: "There is no such document.")
        }
        do {
            return try await OriginalResponse.searchablePDF(of: document, name: newest.sourceName, from: pdfs,
                                                            original: { try await blobs.checkout(document) }, context: context)
                ?? message(status: .conflict, title: "Not read yet", text: "The document has not been read yet.")
        } catch {
            logger.error("a searchable PDF could not be made", metadata: ["sha256": "\(document.sha256)", "error": "\(error)"])
            return message(status: .serviceUnavailable, title: "Not available", text: "The searchable PDF cannot be made right now.")
        }
    }

    private func exportRow(_ context: BasicRequestContext) async throws -> Response {
        guard let (document, jobs) = try await storedDocument(context), let newest = jobs.first,
              let details = try await store.jobDetails(code: newest.code) else {
            return message(status: .notFound, title: "No such document", text: "There is no such document.")
        }
        let data = try DocumentExport.render([ExportRow(details)], as: .excel)
        let name = OriginalResponse.headerSafe((newest.sourceName as NSString).deletingPathExtension)
        return Response(status: .ok, headers: [
            .contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(name.isEmpty ? document.sha256 : name).csv\"",
        ], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: Costs and users

    private func costs(_ session: DashboardAccess.Session, _ request: Request) async throws -> Response {
        let days = request.uri.queryParameters.get("days").flatMap { Int($0) }.map { min(max($0, 1), 3660) } ?? 30
        let now = Timestamp.now
        let since = DashboardBuckets.startOfDay(now) - Double(days - 1) * 86400
        let report = try await store.costs(since: since, now: now)
        return page("Costs", DashboardViews.costs(report, days: days), session: session, section: "/admin/costs", template: "costs")
    }

    private func users(_ session: DashboardAccess.Session, _ request: Request) async throws -> Response {
        async let members = whitelist.members()
        async let seen = store.lastActivity()
        let csrf = access.csrfToken(for: session), activity = try await seen
        let view = DashboardViews.Users(members: try await members.map {
            DashboardViews.MemberLine(id: $0.id, role: $0.role.rawValue, configured: $0.configured, isAdmin: $0.role == .admin,
                                      lastActive: activity[$0.id].map(DashboardViews.time) ?? "never", csrf: csrf)
        }, csrf: csrf)
        return page("Users", view, session: session, section: "/admin/users", notice: notice(request), template: "users")
    }

    /// The same rules as `/allow` and `/deny` (nobody removes themselves; configured admins stay).
    private func changeUser(_ session: DashboardAccess.Session, _ form: FormFields) async throws -> Response {
        guard let id = form["id"].flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }), id > 0 else {
            return Self.redirect("/admin/users?notice=bad-user")
        }
        let outcome: String
        switch form["action"] {
        case "allow":
            outcome = try await whitelist.allow(id, by: session.userID) == .allowed ? "allowed" : "already-admin"
        case "promote":
            outcome = try await whitelist.promote(id, by: session.userID) == .allowed ? "promoted" : "already-admin"
        case "deny":
            switch try await whitelist.deny(id, by: session.userID) {
            case .removed: outcome = "removed"
            case .notListed: outcome = "not-listed"
            case .isSelf: outcome = "self"
            case .configuredAdmin: outcome = "configured"
            }
        default:
            return message(status: .badRequest, title: "Unknown action", text: "Choose allow, promote or remove.", session: session)
        }
        logger.notice("whitelist changed from the dashboard", metadata: ["user": "\(session.userID)", "action": "\(form["action"] ?? "")", "target": "\(id)",
                                                                        "outcome": "\(outcome)"])
        return Self.redirect("/admin/users?notice=\(outcome)")
    }
}

/// Every dashboard response: a strict Content-Security-Policy (no script at all, nothing from elsewhere), no
/// framing, no caching of admin pages, no referrer to other sites (the sign-in link's token never leaves in one).
struct DashboardHeaders: RouterMiddleware {
    typealias Context = BasicRequestContext

    static let policy = "default-src 'none'; img-src 'self'; style-src 'self'; object-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        + "base-uri 'none'; script-src 'none'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if response.headers[.contentSecurityPolicy] == nil { response.headers[.contentSecurityPolicy] = Self.policy }
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("Referrer-Policy")!] = "same-origin"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// An `application/x-www-form-urlencoded` body (the dashboard's forms), capped at 64 KB.
struct FormFields: Sendable {
    let values: [String: String]

    subscript(name: String) -> String? { values[name] }

    static func read(_ request: Request) async throws -> FormFields {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        return FormFields(parsing: String(buffer: buffer))
    }

    init(parsing text: String) {
        var values: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ raw: Substring) -> String? { raw.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = parts.first.flatMap(decode) else { continue }
            // The first value of a name wins: a field repeated later cannot override the page's own.
            if values[name] == nil { values[name] = parts.count > 1 ? decode(parts[1]) ?? "" : "" }
        }
        self.values = values
    }
}
