import Foundation

/// An outgoing HTTP request. Every call in the gateway goes through `HTTPClient` with one of these.
public struct HTTPClientRequest: Sendable, Redacted {
    public enum Body: Sendable {
        case none
        case data(Data)
        /// Streamed from disk; `length` nil means to the end of the file.
        case file(path: String, offset: Int64 = 0, length: Int64? = nil)
        case multipart([MultipartPart])
    }

    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: Body
    /// The whole exchange, connection included.
    public var timeout: Duration
    public var connectTimeout: Duration
    /// A larger response body is cut off with `HTTPClientError.responseTooLarge`.
    public var maxResponseBytes: Int64
    /// Stream the response body to this file instead of memory (downloads).
    public var downloadPath: String?
    /// Give up (`timedOut`) when the transfer stays below this speed for this long: a stalled peer fails fast
    /// while a large, steady transfer may use the whole timeout.
    public var minimumSpeed: MinimumSpeed?
    /// Addresses to connect to instead of asking DNS, as libcurl's `CURLOPT_RESOLVE` takes them
    /// ("host:port:address"): a host checked once is the host connected to.
    public var resolve: [String] = []

    public struct MinimumSpeed: Sendable {
        public var bytesPerSecond: Int
        public var seconds: Int

        public init(bytesPerSecond: Int, seconds: Int) {
            self.bytesPerSecond = bytesPerSecond
            self.seconds = seconds
        }
    }

    public init(method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: Body = .none,
                timeout: Duration = .seconds(60), connectTimeout: Duration = .seconds(10),
                maxResponseBytes: Int64 = 64 << 20, downloadPath: String? = nil, minimumSpeed: MinimumSpeed? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.maxResponseBytes = maxResponseBytes
        self.downloadPath = downloadPath
        self.minimumSpeed = minimumSpeed
    }

    /// JSON body with the matching content type.
    public static func json(_ method: String = "POST", url: String, body: Data, headers: [(name: String, value: String)] = [],
                            timeout: Duration = .seconds(60)) -> HTTPClientRequest {
        HTTPClientRequest(method: method, url: url, headers: [("Content-Type", "application/json")] + headers, body: .data(body), timeout: timeout)
    }

    /// Method and host; never the path (Telegram's carries the token) nor the headers (API keys).
    public var redactedDescription: String { "HTTPClientRequest(\(method) \(redactedURL))" }

    /// Scheme and host only: URLs can carry secrets (Telegram puts the bot token in the path), so errors
    /// and logs name the host and nothing more.
    public var redactedURL: String {
        guard let components = URLComponents(string: url), let host = components.host else { return "(invalid URL)" }
        let port = components.port.map { ":\($0)" } ?? ""
        return "\(components.scheme ?? "http")://\(host)\(port)/…"
    }
}

public struct MultipartPart: Sendable {
    public enum Content: Sendable {
        case data(Data)
        case file(String)
    }

    public var name: String
    public var filename: String?
    public var contentType: String?
    public var content: Content

    public init(name: String, filename: String? = nil, contentType: String? = nil, content: Content) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.content = content
    }

    public static func field(_ name: String, _ value: String) -> MultipartPart {
        MultipartPart(name: name, content: .data(Data(value.utf8)))
    }
}

public struct HTTPClientResponse: Sendable {
    public var status: Int
    /// In arrival order; names as sent.
    public var headers: [(name: String, value: String)]
    /// Empty when the body went to `downloadPath`.
    public var body: Data
    public var bodyBytes: Int64

    public init(status: Int, headers: [(name: String, value: String)], body: Data, bodyBytes: Int64) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bodyBytes = bodyBytes
    }

    /// The last value of a header, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.last { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// `retry-after` (or `retry-after-ms`) in seconds, when the server sent one.
    public var retryAfter: Double? {
        if let milliseconds = header("retry-after-ms").flatMap(Double.init) { return milliseconds / 1000 }
        guard let value = header("retry-after")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: value).map { max(0, $0.timeIntervalSinceNow) }
    }
}

/// Why an exchange did not produce a response. Messages name the host only, never the full URL.
public enum HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidRequest(String)
    case timedOut(host: String)
    case connectionFailed(host: String, reason: String)
    case responseTooLarge(host: String, limit: Int64)
    case fileUnreadable(String)
    case cancelled
    case shutDown

    public var description: String {
        switch self {
        case .invalidRequest(let reason): "invalid request: \(reason)"
        case .timedOut(let host): "\(host) did not answer in time"
        case .connectionFailed(let host, let reason): "could not reach \(host): \(reason)"
        case .responseTooLarge(let host, let limit): "\(host) sent more than \(limit) bytes"
        case .fileUnreadable(let path): "cannot read \(path)"
        case .cancelled: "the request was cancelled"
        case .shutDown: "the HTTP client is shutting down"
        }
    }

    /// Timeouts and connection failures are worth another try; the rest are not.
    public var isTransient: Bool {
        switch self {
        case .timedOut, .connectionFailed: true
        default: false
        }
    }
}
