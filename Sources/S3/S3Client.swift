import Crypto
import CurlHTTP
import Foundation

public struct S3Configuration: Sendable {
    public var bucket: String
    /// nil means AWS (`https://s3.{region}.amazonaws.com`).
    public var endpoint: URL?
    public var region: String
    /// Prepended to every key (`botgateway/`).
    public var prefix: String
    /// `https://host/bucket/key` instead of `https://bucket.host/key` (MinIO, SeaweedFS, most self-hosted stores).
    public var forcePathStyle: Bool
    public var credentials: AWSCredentials

    public init(bucket: String, endpoint: URL? = nil, region: String = "us-east-1", prefix: String = "", forcePathStyle: Bool = false,
                credentials: AWSCredentials) {
        self.bucket = bucket
        self.endpoint = endpoint
        self.region = region
        self.prefix = prefix
        self.forcePathStyle = forcePathStyle
        self.credentials = credentials
    }
}

/// What S3 answered when it said no. Auth and "no such bucket" are permanent; throttling, timeouts and
/// 5xx are transient. The message never holds a credential.
public enum S3Error: Error, Sendable, Equatable, CustomStringConvertible {
    case service(status: Int, code: String, message: String)
    case transport(HTTPClientError)
    case malformed(String)

    public var description: String {
        switch self {
        case .service(let status, let code, let message): "S3 answered \(status) \(code)\(message.isEmpty ? "" : ": \(message)")"
        case .transport(let error): "S3 unreachable: \(error)"
        case .malformed(let what): "unexpected answer from S3: \(what)"
        }
    }

    public var isTransient: Bool {
        switch self {
        case .service(let status, let code, _):
            status >= 500 || status == 429 || ["SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable"].contains(code)
        case .transport(let error): error.isTransient
        case .malformed: true
        }
    }

    public var code: String {
        if case .service(_, let code, _) = self { return code }
        return ""
    }
}

public struct S3ObjectInfo: Sendable, Equatable {
    public var size: Int64
    public var etag: String
    public var metadata: [String: String]
}

/// The S3 calls the gateway needs, signed with SigV4, over the project's libcurl client.
public struct S3Client: Sendable {
    public let configuration: S3Configuration
    private let http: HTTPClient
    private let signer: SigV4Signer
    /// Files above this go up in parts of `partSize` (S3's minimum part is 5 MiB).
    public var multipartThreshold: Int64 = 16 << 20
    public var partSize: Int64 = 8 << 20

    public init(configuration: S3Configuration, http: HTTPClient) {
        self.configuration = configuration
        self.http = http
        signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region)
    }

    /// The full key for a name under the configured prefix.
    public func key(_ name: String) -> String { configuration.prefix + name }

    // MARK: Objects

    public func headObject(_ key: String) async throws -> S3ObjectInfo? {
        let response = try await send("HEAD", key: key)
        if response.status == 404 { return nil }
        try check(response)
        var metadata: [String: String] = [:]
        for header in response.headers where header.name.lowercased().hasPrefix("x-amz-meta-") {
            metadata[String(header.name.lowercased().dropFirst("x-amz-meta-".count))] = header.value
        }
        return S3ObjectInfo(size: Int64(response.header("content-length") ?? "") ?? 0, etag: response.header("etag") ?? "", metadata: metadata)
    }

    /// Uploads bytes with their SHA-256 as the signed payload hash (S3 rejects a body that does not match).
    public func putObject(_ key: String, data: Data, contentType: String, metadata: [String: String] = [:]) async throws {
        let hash = SigV4Signer.hex(SHA256.hash(data: data))
        let response = try await send("PUT", key: key, headers: Self.objectHeaders(contentType: contentType, metadata: metadata, sha256: hash),
                                      body: .data(data), payloadHash: hash)
        try check(response)
    }

    /// Uploads a file, streamed from disk; multipart above `multipartThreshold`. `sha256` is the file's
    /// hash when known (the blob store names files by it), else it is computed by streaming.
    public func putObject(_ key: String, file path: String, sha256: String? = nil, contentType: String, metadata: [String: String] = [:]) async throws {
        let size = try Self.fileSize(path)
        if size > multipartThreshold {
            try await multipartUpload(key, file: path, size: size, contentType: contentType, metadata: metadata)
            return
        }
        let hash = try sha256 ?? Self.sha256(file: path, offset: 0, length: size)
        let response = try await send("PUT", key: key, headers: Self.objectHeaders(contentType: contentType, metadata: metadata, sha256: hash),
                                      body: .file(path: path, offset: 0, length: size), payloadHash: hash)
        try check(response)
    }

    /// The object's bytes, or with `path` streamed to that file (the returned data is then empty); more than
    /// `maxBytes` stops the transfer with `HTTPClientError.responseTooLarge`.
    public func getObject(_ key: String, to path: String? = nil, maxBytes: Int64 = 1 << 30) async throws -> Data {
        let response = try await send("GET", key: key, downloadPath: path, maxResponseBytes: maxBytes)
        try check(response)
        return response.body
    }

    public func deleteObject(_ key: String) async throws {
        let response = try await send("DELETE", key: key)
        if response.status == 404 { return }
        try check(response)
    }

    public func listObjects(prefix: String, maxKeys: Int = 1000) async throws -> [(key: String, size: Int64)] {
        let response = try await send("GET", key: nil, query: [("list-type", "2"), ("prefix", prefix), ("max-keys", String(maxKeys))])
        try check(response)
        let xml = String(decoding: response.body, as: UTF8.self)
        return XMLFields.blocks("Contents", in: xml).map { block in
            (XMLFields.value("Key", in: block) ?? "", Int64(XMLFields.value("Size", in: block) ?? "") ?? 0)
        }
    }

    /// Writes a small object under `name`, reads it back and deletes it: what `doctor` asks of a bucket
    /// (credentials, write and read permission). Throws `S3Error.malformed` if it comes back different.
    public func probe(_ name: String) async throws {
        let key = key(name)
        let body = Data("botgateway doctor \(Date())\n".utf8)
        try await putObject(key, data: body, contentType: "text/plain")
        let back = try await getObject(key)
        try await deleteObject(key)
        guard back == body else { throw S3Error.malformed("the probe object came back different") }
    }

    /// Creates the bucket if it does not exist (tests and `doctor --create` style set-up).
    public func createBucket() async throws {
        let response = try await send("PUT", key: nil)
        if response.status == 409 { return }
        try check(response)
    }

    // MARK: Multipart

    /// Parts are hashed and sent one at a time from disk, so memory stays at one buffer whatever the size.
    /// Any failure aborts the upload so no orphan parts are billed.
    func multipartUpload(_ key: String, file path: String, size: Int64, contentType: String, metadata: [String: String]) async throws {
        var headers = Self.objectHeaders(contentType: contentType, metadata: metadata, sha256: nil)
        headers.removeAll { $0.name == "x-amz-checksum-sha256" }
        let created = try await send("POST", key: key, query: [("uploads", "")], headers: headers)
        try check(created)
        guard let uploadID = XMLFields.value("UploadId", in: String(decoding: created.body, as: UTF8.self)) else {
            throw S3Error.malformed("CreateMultipartUpload gave no UploadId")
        }
        do {
            var parts: [(number: Int, etag: String)] = []
            var offset: Int64 = 0
            var number = 1
            while offset < size {
                let length = min(partSize, size - offset)
                let hash = try Self.sha256(file: path, offset: offset, length: length)
                let response = try await send("PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                              body: .file(path: path, offset: offset, length: length), payloadHash: hash)
                try check(response)
                parts.append((number, response.header("etag") ?? ""))
                offset += length
                number += 1
            }
            let body = "<CompleteMultipartUpload>" + parts.map {
                "<Part><PartNumber>\($0.number)</PartNumber><ETag>\(XMLFields.escape($0.etag))</ETag></Part>"
            }.joined() + "</CompleteMultipartUpload>"
            let data = Data(body.utf8)
            let completed = try await send("POST", key: key, query: [("uploadId", uploadID)], headers: [("Content-Type", "application/xml")],
                                           body: .data(data), payloadHash: SigV4Signer.hex(SHA256.hash(data: data)))
            try check(completed)
            // CompleteMultipartUpload can fail with 200 and an <Error> body.
            if XMLFields.value("Code", in: String(decoding: completed.body, as: UTF8.self)) != nil {
                try check(HTTPClientResponse(status: 500, headers: [], body: completed.body, bodyBytes: 0))
            }
        } catch {
            _ = try? await send("DELETE", key: key, query: [("uploadId", uploadID)])
            throw error
        }
    }

    // MARK: Transport

    func url(key: String?, query: [(String, String)]) -> URL {
        let endpoint = configuration.endpoint ?? URL(string: "https://s3.\(configuration.region).amazonaws.com")!
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)!
        let encodedKey = key.map { "/" + SigV4Signer.encode($0, keepSlash: true) } ?? "/"
        if configuration.forcePathStyle {
            let base = components.percentEncodedPath.hasSuffix("/") ? String(components.percentEncodedPath.dropLast()) : components.percentEncodedPath
            components.percentEncodedPath = base + "/" + SigV4Signer.encode(configuration.bucket) + (key == nil ? "" : encodedKey)
        } else {
            components.host = "\(configuration.bucket).\(components.host ?? "")"
            components.percentEncodedPath = encodedKey
        }
        if !query.isEmpty {
            components.percentEncodedQuery = query.map { $0.1.isEmpty && $0.0 == "uploads" ? "uploads=" : "\(SigV4Signer.encode($0.0))=\(SigV4Signer.encode($0.1))" }
                .joined(separator: "&")
        }
        return components.url!
    }

    private func send(_ method: String, key: String?, query: [(String, String)] = [], headers: [(name: String, value: String)] = [],
                      body: HTTPClientRequest.Body = .none, payloadHash: String = SigV4Signer.emptyPayloadHash,
                      downloadPath: String? = nil, maxResponseBytes: Int64 = 1 << 30) async throws -> HTTPClientResponse {
        let target = url(key: key, query: query)
        let signed = signer.sign(method: method, url: target, headers: headers, payloadHash: payloadHash)
        var request = HTTPClientRequest(method: method, url: target.absoluteString, headers: headers + signed, body: body,
                                        timeout: .seconds(300), maxResponseBytes: maxResponseBytes, downloadPath: downloadPath)
        if method == "PUT", case .none = body {
            request.headers.append(("Content-Length", "0"))
            request.body = .data(Data())
        }
        do {
            return try await http.send(request)
        } catch let error as HTTPClientError {
            throw S3Error.transport(error)
        }
    }

    private func check(_ response: HTTPClientResponse) throws {
        guard !(200..<300).contains(response.status) else { return }
        let xml = String(decoding: response.body, as: UTF8.self)
        throw S3Error.service(status: response.status, code: XMLFields.value("Code", in: xml) ?? "HTTP\(response.status)",
                              message: XMLFields.value("Message", in: xml) ?? "")
    }

    static func objectHeaders(contentType: String, metadata: [String: String], sha256: String?) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("Content-Type", contentType)]
        if let sha256, let bytes = Data(hexString: sha256) {
            headers.append(("x-amz-checksum-sha256", bytes.base64EncodedString()))
        }
        for (name, value) in metadata.sorted(by: { $0.key < $1.key }) {
            // Metadata travels in headers: keep it ASCII and single-line.
            let safe = String(value.unicodeScalars.map { $0.isASCII && $0.value >= 32 ? Character($0) : "?" })
            headers.append(("x-amz-meta-\(name.lowercased())", safe))
        }
        return headers
    }

    static func fileSize(_ path: String) throws -> Int64 {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber else {
            throw S3Error.malformed("cannot read \(path)")
        }
        return size.int64Value
    }

    /// SHA-256 of a file range, read 1 MiB at a time.
    static func sha256(file path: String, offset: Int64, length: Int64) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw S3Error.malformed("cannot read \(path)") }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        var hasher = SHA256()
        var remaining = length
        while remaining > 0 {
            guard let chunk = try handle.read(upToCount: Int(min(remaining, 1 << 20))), !chunk.isEmpty else { break }
            hasher.update(data: chunk)
            remaining -= Int64(chunk.count)
        }
        return SigV4Signer.hex(hasher.finalize())
    }
}

/// Just enough XML for S3's flat answers (errors, listings, upload ids).
enum XMLFields {
    static func value(_ tag: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(tag)>"), let end = xml.range(of: "</\(tag)>", range: start.upperBound..<xml.endIndex) else { return nil }
        return unescape(String(xml[start.upperBound..<end.lowerBound]))
    }

    static func blocks(_ tag: String, in xml: String) -> [String] {
        var blocks: [String] = []
        var cursor = xml.startIndex
        while let start = xml.range(of: "<\(tag)>", range: cursor..<xml.endIndex),
              let end = xml.range(of: "</\(tag)>", range: start.upperBound..<xml.endIndex) {
            blocks.append(String(xml[start.upperBound..<end.lowerBound]))
            cursor = end.upperBound
        }
        return blocks
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

extension Data {
    init?(hexString: String) {
        guard hexString.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = hexString.startIndex
        while index < hexString.endIndex {
            let next = hexString.index(index, offsetBy: 2)
            guard let byte = UInt8(hexString[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}
