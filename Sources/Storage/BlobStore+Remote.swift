import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The shared side of the blob store: what changes when documents live in a remote store that every node reads.
extension BlobStore {
    /// How long a fetched or published copy stays on this node's disk unread before `trimCache` removes it.
    public static let cacheLifetime: TimeInterval = 3600

    /// Makes a stored document durable where every node can read it. Without a remote store the local copy
    /// is the document and this does nothing; with one, the document is uploaded unless it is there already
    /// (same content, same name: a resend costs one HEAD).
    public func publish(_ stored: Stored, contentType: String) async throws(StorageError) {
        guard let remote else { return }
        if try await remote.contains(sha256: stored.sha256, size: stored.size) { return }
        try await remote.upload(file: absolutePath(stored.relativePath), sha256: stored.sha256, size: stored.size, contentType: contentType)
    }

    /// A path on this node's disk holding the document's bytes. With a remote store, a document this node
    /// does not have is streamed into a temporary file (refused above `maxBytes`), checked against its
    /// SHA-256 and renamed into place; a copy already here is marked as used so `trimCache` keeps it.
    public func checkout(_ document: DocumentRecord, maxBytes: Int64 = .max) async throws(StorageError) -> String {
        try await checkout(sha256: document.sha256, relativePath: document.blobPath, maxBytes: maxBytes)
    }

    /// `checkout` for any blob of the store (a document's searchable PDF), by its SHA-256.
    public func checkout(sha256: String, relativePath: String? = nil, maxBytes: Int64 = .max) async throws(StorageError) -> String {
        let path = absolutePath(relativePath ?? Self.relativePath(sha256: sha256))
        guard let remote else { return path }
        if utime(path, nil) == 0 { return path }
        let temporary = dataDirectory.appendingPathComponent("blobs/tmp/fetch-\(UUID().uuidString)").path
        defer { unlink(temporary) }
        try await remote.download(sha256: sha256, to: temporary, maxBytes: maxBytes)
        // Reading the whole file back blocks: off the concurrency threads.
        do {
            try await BlockingWork.run { [self] in
                let (sha, size) = try Self.hash(file: temporary)
                guard sha == sha256 else {
                    throw StorageError.blobUnavailable(path: remote.location, reason: "document \(sha256.prefix(12)) came back with other "
                                                       + "content (\(size) bytes, sha256 \(sha.prefix(12)))")
                }
                // Another worker on this node may have fetched it meanwhile: the rename replaces identical bytes.
                try place(temporary, at: path, sync: false)
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw .blobUnavailable(path: path, reason: "\(error)")
        }
        return path
    }

    /// Deletes a document's bytes everywhere (`/forget`, once no job uses them): this node's copy and the
    /// remote object. Copies cached on other nodes are trimmed within `cacheLifetime` (and no job reads them).
    public func forget(_ document: DocumentRecord) async throws(StorageError) {
        try await forget(sha256: document.sha256, relativePath: document.blobPath)
    }

    /// `forget` for any blob of the store, by its SHA-256.
    public func forget(sha256: String, relativePath: String? = nil) async throws(StorageError) {
        try remove(relativePath ?? Self.relativePath(sha256: sha256))
        try await remote?.delete(sha256: sha256)
    }

    /// With a remote store, removes cached copies unread for `age` seconds; returns how many. Without one the
    /// local files are the documents and are never trimmed.
    @discardableResult
    public func trimCache(olderThan age: TimeInterval = cacheLifetime) -> Int {
        guard remote != nil else { return 0 }
        let root = dataDirectory.appendingPathComponent("blobs")
        let cutoff = Date().addingTimeInterval(-age)
        var removed = 0
        for folder in (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [] where folder.count == 2 {
            let folderURL = root.appendingPathComponent(folder)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folderURL.path)) ?? [] {
                let path = folderURL.appendingPathComponent(name).path
                if let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date, modified < cutoff,
                   unlink(path) == 0 {
                    removed += 1
                }
            }
        }
        return removed
    }

    /// SHA-256 and size of a file, read 1 MiB at a time.
    static func hash(file path: String) throws(StorageError) -> (sha256: String, size: Int64) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .blobUnavailable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var hasher = SHA256()
        var size: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .blobUnavailable(path: path, reason: String(cString: strerror(errno))) }
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            size += Int64(count)
        }
        return (hasher.finalize().hexString, size)
    }
}
