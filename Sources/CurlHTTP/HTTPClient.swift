import CCurl
import Foundation
import Synchronization

/// Every outgoing HTTP call of the gateway: libcurl driven by one `curl_multi` handle on a thread of its
/// own, so no request ever blocks the Swift concurrency pool or an event loop. Connections are reused
/// across requests (the multi handle keeps them), every request has a timeout, and a cancelled task
/// aborts its transfer within one progress tick.
public final class HTTPClient: Sendable {
    private let loop: CurlLoop

    public init(userAgent: String = "BotGateway/1.0") {
        Self.globalInit
        loop = CurlLoop(userAgent: userAgent)
        loop.start()
    }

    deinit {
        loop.stop()
    }

    public func send(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        let transfer = try Transfer(request: request, userAgent: loop.userAgent)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.continuation = continuation
                loop.add(transfer)
                if Task.isCancelled { transfer.cancel() }
            }
        } onCancel: {
            transfer.cancel()
            loop.wake()
        }
    }

    /// Stops the loop; requests in flight fail with `shutDown`.
    public func shutdown() {
        loop.stop()
    }

    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()
}

/// The thread that owns the multi handle. Other threads only queue work and wake it.
final class CurlLoop: @unchecked Sendable {
    let userAgent: String
    private let multi: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var incoming: [Transfer] = []
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    private var started = false

    init(userAgent: String) {
        self.userAgent = userAgent
        multi = curl_multi_init()
        // Keep a few idle connections per host for reuse (Telegram, the LLM API, S3).
        bg_curl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, 32)
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "http-client"
        lock.withLock { started = true }
        thread.start()
    }

    func add(_ transfer: Transfer) {
        let refused = lock.withLock { () -> Bool in
            if stopping { return true }
            incoming.append(transfer)
            return false
        }
        if refused {
            transfer.complete(.failure(HTTPClientError.shutDown))
            return
        }
        wake()
    }

    func wake() {
        curl_multi_wakeup(multi)
    }

    func stop() {
        let wasStarted = lock.withLock { () -> Bool in
            let first = !stopping
            stopping = true
            return first && started
        }
        guard wasStarted else { return }
        wake()
        finished.wait()
    }

    private func run() {
        var running: Int32 = 0
        while true {
            let (adds, stop) = lock.withLock { () -> ([Transfer], Bool) in
                defer { incoming.removeAll() }
                return (incoming, stopping)
            }
            if stop {
                for transfer in adds { transfer.complete(.failure(HTTPClientError.shutDown)) }
                for (easy, transfer) in active {
                    curl_multi_remove_handle(multi, easy)
                    transfer.complete(.failure(HTTPClientError.shutDown))
                }
                active.removeAll()
                curl_multi_cleanup(multi)
                finished.signal()
                return
            }
            for transfer in adds {
                active[transfer.easy] = transfer
                curl_multi_add_handle(multi, transfer.easy)
            }
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let code = message.pointee.data.result
                curl_multi_remove_handle(multi, easy)
                if let transfer = active.removeValue(forKey: easy) {
                    transfer.finish(code)
                }
            }
            // Sleeps until a socket is ready, a timer is due, or another thread calls wake().
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }
}

/// One request: owns its easy handle and everything libcurl points into, freed exactly once in deinit.
final class Transfer: @unchecked Sendable {
    let easy: UnsafeMutableRawPointer
    let request: HTTPClientRequest
    let host: String
    var continuation: CheckedContinuation<HTTPClientResponse, Error>?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var resolveList: UnsafeMutablePointer<curl_slist>?
    private var mime: OpaquePointer?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var body = Data()
    private var bodyBytes: Int64 = 0
    private var headers: [(name: String, value: String)] = []
    private var download: Int32 = -1
    private var upload: Int32 = -1
    private var uploadRemaining: Int64 = 0
    private var tooLarge = false
    private var writeFailed = false
    private let cancelled = Atomic<Bool>(false)
    private let completed = Atomic<Bool>(false)

    init(request: HTTPClientRequest, userAgent: String) throws {
        guard let components = URLComponents(string: request.url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", components.host != nil else {
            throw HTTPClientError.invalidRequest("not an http(s) URL: \(request.redactedURL)")
        }
        guard let easy = curl_easy_init() else { throw HTTPClientError.invalidRequest("libcurl could not create a handle") }
        self.easy = easy
        self.request = request
        host = request.redactedURL
        errorBuffer.initialize(to: 0)
        try configure(userAgent: userAgent)
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        curl_slist_free_all(resolveList)
        if let mime { curl_mime_free(mime) }
        if download >= 0 { close(download) }
        if upload >= 0 { close(upload) }
        errorBuffer.deallocate()
    }

    private func configure(userAgent: String) throws {
        let context = Unmanaged.passUnretained(self).toOpaque()
        bg_curl_set_string(easy, CURLOPT_URL, request.url)
        bg_curl_set_long(easy, CURLOPT_NOSIGNAL, 1)
        bg_curl_set_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        bg_curl_set_long(easy, CURLOPT_TIMEOUT_MS, Int(request.timeout.totalMilliseconds))
        bg_curl_set_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout.totalMilliseconds))
        if let speed = request.minimumSpeed {
            bg_curl_set_long(easy, CURLOPT_LOW_SPEED_LIMIT, speed.bytesPerSecond)
            bg_curl_set_long(easy, CURLOPT_LOW_SPEED_TIME, speed.seconds)
        }
        bg_curl_set_string(easy, CURLOPT_USERAGENT, userAgent)
        bg_curl_set_string(easy, CURLOPT_ACCEPT_ENCODING, "")
        bg_curl_set_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        bg_curl_set_pointer(easy, CURLOPT_PRIVATE, context)
        bg_curl_set_data_callback(easy, CURLOPT_WRITEFUNCTION, curlWrite)
        bg_curl_set_pointer(easy, CURLOPT_WRITEDATA, context)
        bg_curl_set_data_callback(easy, CURLOPT_HEADERFUNCTION, curlHeader)
        bg_curl_set_pointer(easy, CURLOPT_HEADERDATA, context)
        bg_curl_set_long(easy, CURLOPT_NOPROGRESS, 0)
        bg_curl_set_progress_callback(easy, curlProgress)
        bg_curl_set_pointer(easy, CURLOPT_XFERINFODATA, context)

        if let path = request.downloadPath {
            download = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard download >= 0 else { throw HTTPClientError.fileUnreadable(path) }
        }

        let method = request.method.uppercased()
        try configureBody(method: method)
        if method != "GET" && method != "POST" && !(method == "PUT" && request.body.isFile) && method != "HEAD" {
            bg_curl_set_string(easy, CURLOPT_CUSTOMREQUEST, method)
        } else if method == "GET", case .none = request.body {
            bg_curl_set_long(easy, CURLOPT_HTTPGET, 1)
        } else if method == "POST", request.body.isFile {
            bg_curl_set_string(easy, CURLOPT_CUSTOMREQUEST, "POST")
        }

        var list: UnsafeMutablePointer<curl_slist>?
        // libcurl adds "Expect: 100-continue" to large uploads; most APIs answer faster without it.
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            list = curl_slist_append(list, line)
        }
        headerList = list
        bg_curl_set_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list))
        if !request.resolve.isEmpty {
            var resolve: UnsafeMutablePointer<curl_slist>?
            for entry in request.resolve { resolve = curl_slist_append(resolve, entry) }
            resolveList = resolve
            bg_curl_set_pointer(easy, CURLOPT_RESOLVE, UnsafeMutableRawPointer(resolve))
        }
    }

    /// The request body: none (HEAD, an empty POST), bytes, a file range streamed from disk, or multipart.
    private func configureBody(method: String) throws {
        switch request.body {
        case .none:
            if method == "HEAD" { bg_curl_set_long(easy, CURLOPT_NOBODY, 1) }
            // A POST without a body is still a POST (S3's CreateMultipartUpload), not a GET.
            if method == "POST" {
                bg_curl_set_long(easy, CURLOPT_POST, 1)
                bg_curl_set_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, 0)
                bg_curl_set_string(easy, CURLOPT_COPYPOSTFIELDS, "")
            }
        case .data(let data):
            bg_curl_set_long(easy, CURLOPT_POST, 1)
            bg_curl_set_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(data.count))
            data.withUnsafeBytes { raw in
                _ = bg_curl_set_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
        case .file(let path, let offset, let length):
            upload = open(path, O_RDONLY | O_CLOEXEC)
            guard upload >= 0 else { throw HTTPClientError.fileUnreadable(path) }
            var info = stat()
            fstat(upload, &info)
            uploadRemaining = length ?? (Int64(info.st_size) - offset)
            guard offset >= 0, uploadRemaining >= 0, offset + uploadRemaining <= Int64(info.st_size) else {
                throw HTTPClientError.invalidRequest("file range outside \(path)")
            }
            lseek(upload, off_t(offset), SEEK_SET)
            bg_curl_set_long(easy, CURLOPT_UPLOAD, 1)
            bg_curl_set_offset(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(uploadRemaining))
            bg_curl_set_data_callback(easy, CURLOPT_READFUNCTION, curlRead)
            bg_curl_set_pointer(easy, CURLOPT_READDATA, Unmanaged.passUnretained(self).toOpaque())
        case .multipart(let parts):
            try configureMultipart(parts)
        }
    }

    private func configureMultipart(_ parts: [MultipartPart]) throws {
        let mime = curl_mime_init(easy)
        self.mime = mime
        for part in parts {
            let item = curl_mime_addpart(mime)
            curl_mime_name(item, part.name)
            switch part.content {
            case .data(let data):
                data.withUnsafeBytes { raw in
                    _ = curl_mime_data(item, raw.baseAddress?.assumingMemoryBound(to: CChar.self), data.count)
                }
            case .file(let path):
                guard access(path, R_OK) == 0 else { throw HTTPClientError.fileUnreadable(path) }
                curl_mime_filedata(item, path)
            }
            if let filename = part.filename { curl_mime_filename(item, filename) }
            if let type = part.contentType { curl_mime_type(item, type) }
        }
        bg_curl_set_pointer(easy, CURLOPT_MIMEPOST, UnsafeMutableRawPointer(mime))
    }

    func cancel() {
        cancelled.store(true, ordering: .relaxed)
    }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    // MARK: Callbacks (on the loop thread)

    func receive(_ data: UnsafeRawBufferPointer) -> Int {
        bodyBytes += Int64(data.count)
        if bodyBytes > request.maxResponseBytes {
            tooLarge = true
            return 0
        }
        if download >= 0 {
            var offset = 0
            while offset < data.count {
                let written = write(download, data.baseAddress! + offset, data.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else {
                    writeFailed = true
                    return 0
                }
                offset += written
            }
        } else {
            body.append(contentsOf: data)
        }
        return data.count
    }

    func receiveHeader(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("HTTP/") {
            // A new response (after 100 Continue): forget the interim one's headers.
            headers.removeAll()
        } else if let colon = trimmed.firstIndex(of: ":") {
            headers.append((String(trimmed[..<colon]), trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
    }

    func supply(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard uploadRemaining > 0 else { return 0 }
        let wanted = Int(min(Int64(buffer.count), uploadRemaining))
        var count: Int
        repeat { count = read(upload, buffer.baseAddress, wanted) } while count < 0 && errno == EINTR
        guard count > 0 else { return Int(CURL_READFUNC_ABORT) }
        uploadRemaining -= Int64(count)
        return count
    }

    func finish(_ code: CURLcode) {
        var status = 0
        bg_curl_get_long(easy, CURLINFO_RESPONSE_CODE, &status)
        switch code {
        case CURLE_OK:
            complete(.success(HTTPClientResponse(status: status, headers: headers, body: body, bodyBytes: bodyBytes)))
        case CURLE_OPERATION_TIMEDOUT:
            complete(.failure(HTTPClientError.timedOut(host: host)))
        case CURLE_ABORTED_BY_CALLBACK:
            complete(.failure(HTTPClientError.cancelled))
        case CURLE_WRITE_ERROR where tooLarge, CURLE_FILESIZE_EXCEEDED:
            complete(.failure(HTTPClientError.responseTooLarge(host: host, limit: request.maxResponseBytes)))
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            complete(.failure(HTTPClientError.invalidRequest(String(cString: curl_easy_strerror(code)))))
        default:
            let detail = String(cString: errorBuffer)
            let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            // libcurl's messages can quote the URL; keep only the host.
            complete(.failure(HTTPClientError.connectionFailed(host: host, reason: Self.redact(reason, url: request.url))))
        }
    }

    func complete(_ result: Result<HTTPClientResponse, Error>) {
        guard !completed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let continuation = self.continuation
        self.continuation = nil
        continuation?.resume(with: result)
    }

    static func redact(_ message: String, url: String) -> String {
        guard let components = URLComponents(string: url) else { return message }
        var cleaned = message.replacingOccurrences(of: url, with: "…")
        if !components.path.isEmpty, components.path != "/" { cleaned = cleaned.replacingOccurrences(of: components.path, with: "/…") }
        return cleaned
    }
}

private extension HTTPClientRequest.Body {
    var isFile: Bool {
        if case .file = self { return true }
        return false
    }
}

extension Duration {
    var totalMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

// libcurl calls these on the loop thread with the transfer as context; they must not capture anything.
private let curlWrite: bg_curl_data_callback = { data, size, count, context in
    guard let context, let data else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.receive(UnsafeRawBufferPointer(start: data, count: size * count))
}

private let curlHeader: bg_curl_data_callback = { data, size, count, context in
    guard let context, let data else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
    transfer.receiveHeader(String(decoding: bytes, as: UTF8.self))
    return size * count
}

private let curlRead: bg_curl_data_callback = { data, size, count, context in
    guard let context, let data else { return Int(CURL_READFUNC_ABORT) }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.supply(UnsafeMutableRawBufferPointer(start: data, count: size * count))
}

private let curlProgress: bg_curl_progress_callback = { context, _, _, _, _ in
    guard let context else { return 0 }
    return Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue().isCancelled ? 1 : 0
}
