import Crypto
import Foundation
import Hummingbird
import NIOCore
import Storage

/// An upload's body spooled to a scratch file as it arrives (memory stays flat whatever its size), size-capped,
/// then taken apart: a multipart form's file part and fields, or a raw body named by `?filename=` or
/// `Content-Disposition`. The document's SHA-256 is known before it is stored, so a repeat is recognised.
struct UploadSpool: Sendable {
    let folder: URL
    let maxBytes: Int64

    struct Spooled: Sendable {
        var path: String
        var size: Int64
        var sha256: String
        var filename: String?
        var fields: [String: String]
        /// Every scratch file made for it.
        var scratch: [String]

        func remove() {
            for file in scratch { unlink(file) }
        }
    }

    /// A multipart form is a little larger than its file.
    static let formOverhead: Int64 = 64 * 1024
    /// Bytes gathered in memory before they are written out.
    static let flushBytes = 1 << 20

    func receive(_ request: Request) async throws -> Spooled {
        let contentType = request.headers[.contentType] ?? "application/octet-stream"
        let boundary = MultipartForm.boundary(contentType: contentType)
        if contentType.lowercased().hasPrefix("multipart/"), boundary == nil {
            throw APIProblem.badRequest("a multipart upload must be multipart/form-data with a boundary")
        }
        if let declared = request.headers[.contentLength].flatMap({ Int64($0) }), declared > maxBytes + Self.formOverhead {
            throw APIController.tooLarge(maxBytes)
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let body = folder.appendingPathComponent("api-\(UUID().uuidString).part").path
        let descriptor = open(body, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StorageError.blobUnavailable(path: body, reason: String(cString: strerror(errno))) }
        var closed = false
        do {
            var pending = ByteBuffer(), total: Int64 = 0
            let limit = maxBytes + (boundary == nil ? 0 : Self.formOverhead)
            for try await chunk in request.body {
                total += Int64(chunk.readableBytes)
                guard total <= limit else { throw APIController.tooLarge(maxBytes) }
                pending.writeImmutableBuffer(chunk)
                if pending.readableBytes >= Self.flushBytes {
                    try await Self.write(pending, to: descriptor, path: body)
                    pending.clear()
                }
            }
            try await Self.write(pending, to: descriptor, path: body)
            close(descriptor)
            closed = true
            if let boundary {
                return try await BlockingWork.run { try Self.takeApart(form: body, boundary: boundary) }
            }
            let sha = try await BlockingWork.run { try Self.hash(file: body) }
            return Spooled(path: body, size: total, sha256: sha, filename: Self.filename(request), fields: [:], scratch: [body])
        } catch {
            if !closed { close(descriptor) }
            unlink(body)
            throw error
        }
    }

    private static func write(_ buffer: ByteBuffer, to descriptor: Int32, path: String) async throws {
        guard buffer.readableBytes > 0 else { return }
        try await BlockingWork.run {
            try buffer.withUnsafeReadableBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { throw StorageError.blobUnavailable(path: path, reason: String(cString: strerror(errno))) }
                    offset += written
                }
            }
        }
    }

    /// The form's file part written to a file of its own; its fields kept.
    private static func takeApart(form path: String, boundary: String) throws -> Spooled {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        let form: MultipartForm
        do {
            form = try MultipartForm.parse(data, boundary: boundary)
        } catch {
            unlink(path)
            throw APIProblem.badRequest(error.description)
        }
        guard let file = form.file else {
            unlink(path)
            throw APIProblem.badRequest("the form has no file part: send the document as the part named \"file\"")
        }
        let document = path.replacingOccurrences(of: ".part", with: ".upload")
        let bytes = data[file.range]
        guard FileManager.default.createFile(atPath: document, contents: bytes, attributes: [.posixPermissions: 0o600]) else {
            unlink(path)
            throw StorageError.blobUnavailable(path: document, reason: "could not write the upload to scratch space")
        }
        let sha = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        return Spooled(path: document, size: Int64(bytes.count), sha256: sha, filename: file.filename, fields: form.fields, scratch: [path, document])
    }

    private static func hash(file path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw StorageError.blobUnavailable(path: path, reason: "unreadable") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// A raw body's name: `?filename=`, else the `Content-Disposition` header's `filename`.
    private static func filename(_ request: Request) -> String? {
        if let name = request.uri.queryParameters["filename"], !name.isEmpty { return String(name) }
        guard let disposition = request.headers[.contentDisposition] else { return nil }
        for parameter in disposition.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where parameter.lowercased().hasPrefix("filename=") {
            let value = parameter.dropFirst("filename=".count)
            return String(value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? value.dropFirst().dropLast() : value)
        }
        return nil
    }
}
