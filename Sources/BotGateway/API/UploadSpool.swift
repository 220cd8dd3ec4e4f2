import Crypto
import Foundation
import Hummingbird
import NIOCore
import Storage

/// An upload's body written to disk as it arrives (memory stays flat whatever its size), size-capped, and
/// hashed on the way. A raw body is written straight into the document store's scratch folder, so taking it in
/// is a rename; a multipart form is spooled, then its file part copied out. Either way the document's SHA-256
/// is known before it is stored, so a repeat is recognised.
struct UploadSpool: Sendable {
    /// `BOT_DATA_DIR/tmp`, for a multipart form before it is taken apart.
    let folder: URL
    let blobs: BlobStore
    let maxBytes: Int64

    struct Spooled: Sendable {
        /// The document's bytes, at a `blobs.temporaryPath()`.
        var path: String
        var size: Int64
        var sha256: String
        var head: Data
        var filename: String?
        var fields: [String: String]
        /// Every scratch file made for it (what is left of them once the document is taken in).
        var scratch: [String]

        func remove() {
            for file in scratch { unlink(file) }
        }
    }

    /// A multipart form is a little larger than its file.
    static let formOverhead: Int64 = 64 * 1024
    /// Bytes gathered in memory before they are written out.
    static let flushBytes = 1 << 20
    static let headBytes = 1024

    /// What a file being written has seen so far. (Crypto's `SHA256` is a plain value that does not say it is
    /// Sendable; it is only ever passed from one write to the next, never shared.)
    private struct Written: @unchecked Sendable {
        var hasher = SHA256()
        var head = Data()
        var size: Int64 = 0
    }

    func receive(_ request: Request) async throws -> Spooled {
        let contentType = request.headers[.contentType] ?? "application/octet-stream"
        let boundary = MultipartForm.boundary(contentType: contentType)
        if contentType.lowercased().hasPrefix("multipart/"), boundary == nil {
            throw APIProblem.badRequest("a multipart upload must be multipart/form-data with a boundary")
        }
        if let declared = request.headers[.contentLength].flatMap({ Int64($0) }), declared > maxBytes + Self.formOverhead {
            throw APIController.tooLarge(maxBytes)
        }
        let path: String
        if boundary == nil {
            path = blobs.temporaryPath()
        } else {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            path = folder.appendingPathComponent("api-\(UUID().uuidString).part").path
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StorageError.blobUnavailable(path: path, reason: String(cString: strerror(errno))) }
        var closed = false
        do {
            var pending = ByteBuffer(), written = Written()
            let limit = maxBytes + (boundary == nil ? 0 : Self.formOverhead)
            for try await chunk in request.body {
                guard written.size + Int64(pending.readableBytes + chunk.readableBytes) <= limit else { throw APIController.tooLarge(maxBytes) }
                pending.writeImmutableBuffer(chunk)
                if pending.readableBytes >= Self.flushBytes {
                    written = try await Self.write(pending, to: descriptor, path: path, after: written)
                    pending.clear()
                }
            }
            written = try await Self.write(pending, to: descriptor, path: path, after: written)
            close(descriptor)
            closed = true
            if let boundary {
                let blobs = self.blobs
                return try await BlockingWork.run { try Self.takeApart(form: path, boundary: boundary, into: blobs.temporaryPath()) }
            }
            let sha = written.hasher.finalize().hexString
            return Spooled(path: path, size: written.size, sha256: sha, head: written.head, filename: Self.filename(request), fields: [:], scratch: [path])
        } catch {
            if !closed { close(descriptor) }
            unlink(path)
            throw error
        }
    }

    /// Writes a batch of the body off the concurrency threads, hashing it.
    private static func write(_ buffer: ByteBuffer, to descriptor: Int32, path: String, after written: Written) async throws -> Written {
        guard buffer.readableBytes > 0 else { return written }
        return try await BlockingWork.run {
            var written = written
            try buffer.withUnsafeReadableBytes { bytes in
                written.hasher.update(bufferPointer: bytes)
                if written.head.count < headBytes { written.head.append(contentsOf: bytes.prefix(headBytes - written.head.count)) }
                var offset = 0
                while offset < bytes.count {
                    let count = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { throw StorageError.blobUnavailable(path: path, reason: String(cString: strerror(errno))) }
                    offset += count
                }
            }
            written.size += Int64(buffer.readableBytes)
            return written
        }
    }

    /// The form's file part written to `document`; its fields kept.
    private static func takeApart(form path: String, boundary: String, into document: String) throws -> Spooled {
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
        let bytes = data[file.range]
        guard FileManager.default.createFile(atPath: document, contents: bytes, attributes: [.posixPermissions: 0o600]) else {
            unlink(path)
            throw StorageError.blobUnavailable(path: document, reason: "could not write the upload to scratch space")
        }
        let sha = SHA256.hash(data: bytes).hexString
        return Spooled(path: document, size: Int64(bytes.count), sha256: sha, head: Data(bytes.prefix(headBytes)), filename: file.filename,
                       fields: form.fields, scratch: [path, document])
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
