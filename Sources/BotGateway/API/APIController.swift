import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore
import Plugins
import Storage
import Synchronization
import UseCases

/// `/api/v1`: the HTTP API beside Telegram, as `openapi.yaml` describes it. Thin: each handler checks the
/// token, its scope and its rate, calls one use case, and maps the answer (or the refusal) to JSON.
final class APIController: Sendable {
    let service: APIService
    let tokens: APITokenService
    let settings: APISettings
    /// `BOT_DATA_DIR/tmp`: where an upload is spooled before the document store takes it.
    let scratch: URL
    let blobs: BlobStore
    let limiter: RateLimiter
    let answerStep: String
    /// Documents as searchable PDFs (nil: `SEARCHABLE_PDF=false`, the endpoint answers 404).
    let pdfs: SearchablePDFs?
    let logger: Logger
    /// When each token's last use was recorded (at most once a minute per token, not once a request).
    private let lastTouched = Mutex<[Int64: Double]>([:])

    init(service: APIService, tokens: APITokenService, settings: APISettings, scratch: URL, blobs: BlobStore, answerStep: String,
         pdfs: SearchablePDFs? = nil, limiter: RateLimiter = RateLimiter(), logger: Logger) {
        self.service = service
        self.tokens = tokens
        self.settings = settings
        self.scratch = scratch
        self.blobs = blobs
        self.limiter = limiter
        self.answerStep = answerStep
        self.pdfs = pdfs
        self.logger = logger
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        let api = router.group("api/v1")
        api.get("openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
        }
        api.post("documents") { [self] request, context in try await guarded { try await upload(request, context: context) } }
        api.get("documents") { [self] request, _ in try await guarded { try await search(request) } }
        api.get("documents/:id/original") { [self] request, context in try await guarded { try await original(request, context: context) } }
        api.get("documents/:id/text") { [self] request, context in try await guarded { try await text(request, context: context) } }
        api.get("documents/:id/searchable.pdf") { [self] request, context in try await guarded { try await searchablePDF(request, context: context) } }
        api.get("jobs") { [self] request, _ in try await guarded { try await listJobs(request) } }
        api.get("jobs/:code") { [self] request, context in try await guarded { try await job(request, context: context) } }
        api.post("jobs/:code/retry") { [self] request, context in try await guarded { try await retry(request, context: context) } }
        api.get("groups/:id/report") { [self] request, context in try await guarded { try await groupReport(request, context: context) } }
        api.get("stats") { [self] request, _ in try await guarded { try await stats(request) } }
        // Any other method on these paths is 405 with the methods there are, not a 404 that says the path is wrong.
        let declared: [(String, [HTTPRequest.Method])] = [
            ("openapi.yaml", [.get]), ("documents", [.get, .post]), ("documents/:id/original", [.get]), ("documents/:id/text", [.get]), ("documents/:id/searchable.pdf", [.get]),
            ("jobs", [.get]), ("jobs/:code", [.get]), ("jobs/:code/retry", [.post]), ("groups/:id/report", [.get]), ("stats", [.get]),
        ]
        let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .options, .trace, HTTPRequest.Method("QUERY")!]
        for (path, allowed) in declared {
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            for method in methods where !allowed.contains(method) {
                api.on(RouterPath(path), method: method) { _, _ -> Response in
                    throw APIProblem(slug: "method-not-allowed", status: .methodNotAllowed, title: "Method not allowed",
                                     detail: "\(path.replacingOccurrences(of: ":", with: "{")) takes \(allow)", extraHeaders: [.allow: allow])
                }
            }
        }
    }

    // MARK: Handlers

    private func upload(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try await authorize(request, .upload)
        do {
            try await service.checkQuota(token, quota: token.dailyQuota ?? settings.dailyQuota)
        } catch APIService.Refusal.quotaExhausted(let limit, let resetsIn) {
            throw APIProblem(slug: "quota-exhausted", status: .tooManyRequests, title: "Daily document quota used up",
                             detail: "this token may send \(limit) documents a day (UTC); try again after midnight UTC or ask an admin for a larger quota",
                             retryAfter: resetsIn)
        }
        // A raw body's options are all in the query: refused before its bytes are read. A form's come with it.
        let isForm = MultipartForm.boundary(contentType: request.headers[.contentType] ?? "") != nil
        let early = isForm ? nil : try await uploadOptions(request, fields: [:])
        let spooled = try await UploadSpool(folder: scratch, blobs: blobs, maxBytes: settings.maxUploadBytes).receive(request)
        defer { spooled.remove() }
        let options: UploadOptions
        if let early { options = early } else { options = try await uploadOptions(request, fields: spooled.fields) }
        let upload = APIService.Upload(name: DocumentIntake.safeName(spooled.filename ?? "document"), sha256: spooled.sha256, size: spooled.size,
                                       head: spooled.head, idempotencyKey: options.key, group: options.group, callbackURL: options.callback,
                                       language: options.language)
        let submission: Submission
        do {
            submission = try await service.submit(file: spooled.path, upload: upload, token: token)
        } catch let refusal as DocumentIntake.Refusal {
            throw Self.problem(refusal, limit: settings.maxUploadBytes)
        } catch APIService.Refusal.keyReused(let existing) {
            throw APIProblem(slug: "idempotency-key-reused", status: .unprocessableContent, title: "Idempotency key reused",
                             detail: "this Idempotency-Key made job \(existing) from other bytes; use a new key for a new document")
        }
        let status = "/api/v1/jobs/\(submission.job.code)"
        logger.info("document taken over the API",
                    metadata: ["job": "\(submission.job.code)", "token": "\(token.name)", "created": "\(submission.created)", "bytes": "\(spooled.size)"])
        return try Self.json(APIModels.Accepted(created: submission.created, job: APIModels.JobSummary(submission.job), status_url: status),
                             status: submission.created ? .accepted : .ok, headers: [.location: status])
    }

    struct UploadOptions {
        var key: String?
        var group: String?
        var language: String?
        var callback: String?
    }

    /// An upload's options (form fields first, then the query), checked: the callback address resolved and judged.
    private func uploadOptions(_ request: Request, fields: [String: String]) async throws -> UploadOptions {
        let query = Self.query(request)
        func option(_ name: String) -> String? {
            (fields[name] ?? query[name[...]].map(String.init)).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        let key = request.headers[.init("Idempotency-Key")!]?.trimmingCharacters(in: .whitespaces)
        if let key, !(1...255).contains(key.count) || !key.allSatisfy({ $0.isASCII && !$0.isWhitespace }) {
            throw APIProblem.invalid("the Idempotency-Key header must be 1 to 255 visible ASCII characters", slug: "invalid-idempotency-key")
        }
        let group = option("group")
        if let group, group.count > 100 { throw APIProblem.invalid("a group name is at most 100 characters", slug: "invalid-group") }
        let language = option("language")
        if let language, !Self.isLanguageTag(language) {
            throw APIProblem.invalid("language must be a language tag such as en, de or pt-BR", slug: "invalid-language")
        }
        guard let url = option("callback_url") else { return UploadOptions(key: key, group: group, language: language) }
        do {
            let callback = try await CallbackAddress.check(url, allowPrivate: settings.callbackAllowPrivate).url
            return UploadOptions(key: key, group: group, language: language, callback: callback)
        } catch let refusal as CallbackAddress.Refusal {
            throw APIProblem.invalid(refusal.description, slug: "callback-refused")
        }
    }

    private func job(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try await authorize(request, .read)
        let code = try context.parameters.require("code")
        guard let details = try await service.job(code: code, for: token) else { throw APIProblem.notFound("job \(code)") }
        return try Self.json(APIModels.Job(details, answerStep: answerStep))
    }

    private func listJobs(_ request: Request) async throws -> Response {
        let token = try await authorize(request, .read)
        let query = Self.query(request)
        var state: JobState?
        if let raw = query["state"] {
            guard let parsed = JobState(rawValue: String(raw)) else {
                throw APIProblem.badRequest("state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            state = parsed
        }
        let since = try query["since"].map { raw throws(APIProblem) in
            guard let time = Self.parseTime(String(raw)) else { throw APIProblem.badRequest("since must be an RFC 3339 time, such as 2026-03-01T00:00:00Z") }
            return time
        }
        let before = try query["cursor"].map { raw throws(APIProblem) in
            guard let id = Self.decodeCursor(String(raw)) else { throw APIProblem.badRequest("the cursor is not one this API gave out") }
            return id
        }
        let limit = try Self.limit(query["limit"], default: 50, maximum: 200)
        // One more than asked: whether there is a next page.
        let jobs = try await service.jobs(for: token, state: state, since: since, before: before, limit: limit + 1)
        let page = Array(jobs.prefix(limit))
        let next = jobs.count > limit ? page.last?.id.map(Self.encodeCursor) : nil
        return try Self.json(APIModels.JobPage(jobs: page.map(APIModels.JobSummary.init), next_cursor: next))
    }

    private func retry(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try await authorize(request, .upload)
        let code = try context.parameters.require("code")
        let job: JobRecord?
        do {
            job = try await service.retry(code: code, for: token)
        } catch StorageError.invalid(let why) {
            throw APIProblem(slug: "not-retryable", status: .conflict, title: "The job cannot be retried", detail: why)
        }
        guard let job else { throw APIProblem.notFound("job \(code)") }
        return try Self.json(APIModels.Accepted(created: false, job: APIModels.JobSummary(job), status_url: "/api/v1/jobs/\(job.code)"),
                             status: .accepted, headers: [.location: "/api/v1/jobs/\(job.code)"])
    }

    private func search(_ request: Request) async throws -> Response {
        let token = try await authorize(request, .read)
        let query = Self.query(request)
        guard let words = query["q"].map(String.init), !words.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIProblem.badRequest("give the words to look for as ?q=")
        }
        guard words.count <= 500 else { throw APIProblem.badRequest("the query is longer than 500 characters") }
        let hits = try await service.search(words, for: token, limit: try Self.limit(query["limit"], default: 10, maximum: 50))
        return try Self.json(APIModels.SearchResults(query: words, results: hits.map {
            APIModels.SearchResult(document_id: $0.sha256, name: $0.name, job_code: $0.jobCode, snippet: $0.snippet)
        }))
    }

    private func original(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try await authorize(request, .read)
        let id = try context.parameters.require("id")
        guard let (document, job) = try await service.document(sha256: id, for: token) else { throw APIProblem.notFound("document \(id)") }
        let path: String
        do {
            path = try await service.originalPath(document)
        } catch {
            logger.error("an original could not be read", metadata: ["sha256": "\(document.sha256)", "error": "\(error)"])
            throw APIProblem.unavailable("the document store cannot hand out this document right now")
        }
        return try await OriginalResponse.make(document, at: path, name: job.sourceName, disposition: "attachment", context: context)
    }

    /// The document with an invisible text layer; a PDF with its own text is already that, and comes as it is.
    private func searchablePDF(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try await authorize(request, .read)
        let id = try context.parameters.require("id")
        guard let pdfs, let (document, job) = try await service.document(sha256: id, for: token) else { throw APIProblem.notFound("document \(id)") }
        let response: Response?
        do {
            response = try await OriginalResponse.searchablePDF(of: document, name: job.sourceName, from: pdfs,
                                                                original: { try await service.originalPath(document) }, context: context)
        } catch let error as PluginError where error.kind == .permanent {
            throw APIProblem(slug: "unreadable", status: .unprocessableContent, title: "No searchable PDF", detail: error.message)
        } catch {
            logger.error("a searchable PDF could not be made", metadata: ["sha256": "\(document.sha256)", "error": "\(error)"])
            throw APIProblem.unavailable("the searchable PDF cannot be made right now")
        }
        guard let response else {
            throw APIProblem(slug: "not-read-yet", status: .conflict, title: "Not read yet",
                             detail: "the document has not been read yet; its job's status says when it is", retryAfter: 5)
        }
        return response
    }

    private func text(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try await authorize(request, .read)
        let id = try context.parameters.require("id")
        guard let (document, _) = try await service.document(sha256: id, for: token) else { throw APIProblem.notFound("document \(id)") }
        guard let text = document.ocrText else {
            throw APIProblem(slug: "not-read-yet", status: .conflict, title: "Not read yet",
                             detail: "the document has not been read yet; its job's status says when it is", retryAfter: 5)
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    private func groupReport(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try await authorize(request, .read)
        let raw = try context.parameters.require("id")
        guard let id = Int64(raw), id > 0, let report = try await service.groupReport(id: id, for: token) else {
            throw APIProblem.notFound("group \(raw)")
        }
        return Response(status: .ok, headers: [.contentType: "text/markdown; charset=utf-8", .init("X-Documents-Pending")!: "\(report.pending)"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: report.markdown)))
    }

    private func stats(_ request: Request) async throws -> Response {
        _ = try await authorize(request, .admin)
        let days = try Self.limit(Self.query(request)["days"], default: 30, maximum: 366, name: "days")
        let since = ((Date().timeIntervalSince1970 / 86_400).rounded(.down) - Double(days - 1)) * 86_400
        let (totals, spending) = try await service.stats(since: since)
        return try Self.json(APIModels.Stats(totals, spending: spending))
    }

    // MARK: Tokens, scopes, rates

    /// The caller's live token, if it has `scope` (admin has every scope) and rate left.
    private func authorize(_ request: Request, _ scope: APIScope) async throws -> APITokenRecord {
        guard let header = request.headers[.authorization] else {
            throw APIProblem.unauthorized("send the token as `Authorization: Bearer bgw_…` (an admin makes one with `botgateway tokens create`)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIProblem.unauthorized("the Authorization header must be `Bearer TOKEN`") }
        guard let token = try await tokens.authenticate(parts[1].trimmingCharacters(in: .whitespaces)), let id = token.id else {
            throw APIProblem.unauthorized("the token is unknown or revoked")
        }
        let rate = token.rateLimit ?? settings.rateLimit
        if let wait = limiter.take(id, rate: rate) {
            throw APIProblem(slug: "rate-limited", status: .tooManyRequests, title: "Too many requests",
                             detail: "this token may make \(rate.formatted()) requests a second; wait and send again", retryAfter: max(1, Int(wait.rounded(.up))))
        }
        guard token.scopes.contains(scope) || token.scopes.contains(.admin) else { throw APIProblem.forbidden(scope: scope) }
        let now = Date().timeIntervalSince1970
        let due = lastTouched.withLock { touched in
            guard now - (touched[id] ?? 0) >= 60 else { return false }
            touched[id] = now
            return true
        }
        if due { try? await tokens.touch(id: id, now: now) }
        return token
    }

    /// Runs a handler; a refusal is its problem response, anything else a 503 (our store is down) or a 500, logged.
    private func guarded(_ handler: () async throws -> Response) async throws -> Response {
        do {
            return try await handler()
        } catch let problem as APIProblem {
            throw problem
        } catch let error as StorageError {
            switch error {
            case .databaseUnavailable, .blobUnavailable:
                logger.error("API request failed: the store is unavailable", metadata: ["error": "\(error)"])
                throw APIProblem.unavailable("the gateway's store is unavailable; nothing was recorded, send it again later")
            case .notFound(let what):
                throw APIProblem.notFound(what)
            default:
                logger.error("API request failed", metadata: ["error": "\(error)"])
                throw APIProblem(slug: "internal", status: .internalServerError, title: "Internal error", detail: "the gateway failed; its log says why")
            }
        } catch let error as HTTPError {
            throw APIProblem(slug: "bad-request", status: error.status, title: "Malformed request", detail: error.body ?? "the request is malformed")
        } catch {
            logger.error("API request failed", metadata: ["error": "\(error)"])
            throw APIProblem(slug: "internal", status: .internalServerError, title: "Internal error", detail: "the gateway failed; its log says why")
        }
    }

    // MARK: Helpers

    /// The query's parameters, the first of each name.
    static func query(_ request: Request) -> [Substring: Substring] {
        var parameters: [Substring: Substring] = [:]
        for (name, value) in request.uri.queryParameters where parameters[name] == nil { parameters[name] = value }
        return parameters
    }

    static func problem(_ refusal: DocumentIntake.Refusal, limit: Int64) -> APIProblem {
        switch refusal {
        case .empty: APIProblem.invalid("the file is empty; send the document's bytes", slug: "empty-file")
        case .unsupported(let what):
            APIProblem(slug: "unsupported-type", status: .unsupportedMediaType, title: "Not a document we read",
                       detail: "\(what); send a PDF, JPEG, PNG, TIFF, WebP, GIF, BMP or HEIC")
        case .tooLarge: tooLarge(limit)
        case .unreadable(let why): APIProblem.invalid("the file cannot be read: \(why)", slug: "unreadable-file")
        case .storeUnavailable: APIProblem.unavailable("the document store cannot take it right now; nothing was kept, send it again later")
        }
    }

    static func tooLarge(_ limit: Int64) -> APIProblem {
        APIProblem(slug: "too-large", status: .contentTooLarge, title: "The file is too large",
                   detail: "uploads are limited to \(limit / 1_000_000) MB; split the document or send a smaller scan")
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JSONEncoder.api.encode(value))))
    }

    static func limit(_ raw: Substring?, default fallback: Int, maximum: Int, name: String = "limit") throws(APIProblem) -> Int {
        guard let raw else { return fallback }
        guard let value = Int(raw), (1...maximum).contains(value) else { throw APIProblem.badRequest("\(name) must be a number from 1 to \(maximum)") }
        return value
    }

    /// An RFC 3339 date-time (any offset from -23:59 to +23:59, fractions, a leap second read as :59).
    static func parseTime(_ raw: String) -> Timestamp? {
        let text = Array(raw.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= text.count, range.allSatisfy({ text[$0] >= 48 && text[$0] <= 57 }) else { return nil }
            return range.reduce(0) { $0 * 10 + Int(text[$1] - 48) }
        }
        func byte(_ index: Int, _ allowed: String) -> Bool { index < text.count && allowed.utf8.contains(text[index]) }
        guard text.count >= 20, let year = number(0..<4), byte(4, "-"), let month = number(5..<7), byte(7, "-"), let day = number(8..<10),
              byte(10, "Tt "), let hour = number(11..<13), byte(13, ":"), let minute = number(14..<16), byte(16, ":"), let second = number(17..<19),
              hour < 24, minute < 60, second <= 60 else { return nil }
        var index = 19, fraction = 0.0
        if byte(index, ".") {
            var scale = 0.1
            index += 1
            let start = index
            while index < text.count, text[index] >= 48, text[index] <= 57 {
                fraction += Double(text[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if byte(index, "Zz"), index + 1 == text.count {
            offset = 0
        } else if byte(index, "+-"), index + 6 == text.count, byte(index + 3, ":"), let hours = number(index + 1..<index + 3),
                  let minutes = number(index + 4..<index + 6), hours < 24, minutes < 60 {
            offset = (hours * 60 + minutes) * 60 * (text[index] == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: min(second, 59))
        guard components.isValidDate(in: calendar), let date = calendar.date(from: components) else { return nil }
        return date.timeIntervalSince1970 + fraction - Double(offset)
    }

    /// A cursor is where the page before ended (the last job's row id): clients pass it back as it is, and
    /// its form (up to 18 digits) is in the contract, so any cursor a client can send is one the API reads.
    static func encodeCursor(_ id: Int64) -> String {
        String(id)
    }

    static func decodeCursor(_ cursor: String) -> Int64? {
        guard (1...18).contains(cursor.count), cursor.allSatisfy(\.isASCII), cursor.allSatisfy(\.isNumber), let id = Int64(cursor), id > 0 else { return nil }
        return id
    }

    static func isLanguageTag(_ tag: String) -> Bool {
        let parts = tag.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, (2...3).contains(first.count), first.allSatisfy({ $0.isASCII && $0.isLetter }), parts.count <= 3 else { return false }
        return parts.dropFirst().allSatisfy { (2...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }
    }
}
