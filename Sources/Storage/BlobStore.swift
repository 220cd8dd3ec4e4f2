import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Document bytes on disk under `BOT_DATA_DIR/blobs/`, named by SHA-256 so each content is kept once.
///
/// Files are hashed while they are copied (1 MiB at a time: memory stays flat whatever the size), written
/// to a temporary file, fsynced and renamed into place, so a crash never leaves a half-written blob
/// under a real name.
///
/// With a `remote` store (`BLOB_STORE=s3`) the disk is only a cache: a document counts as stored once
/// `publish` has put it in the remote store, a node that lacks it fetches it there (`checkout`), and copies
/// nobody read for an hour are trimmed, so nothing depends on one machine's disk.
public struct BlobStore: Sendable {
    public struct Stored: Sendable, Equatable {
        public var sha256: String
        public var size: Int64
        /// Path relative to the data folder.
        public var relativePath: String
        /// The first bytes, for sniffing the format without reading the file again.
        public var head: Data
        /// False when the same content was already stored.
        public var isNew: Bool
    }

    public let dataDirectory: URL
    /// The store every node shares, when documents must be readable on other machines.
    public let remote: (any RemoteBlobs)?
    /// One flush for the uploads that arrive together (`adopt` then `syncAdopted`).
    public let adopted: SyncBatcher
    static let chunkSize = 1 << 20
    static let headSize = 1024

    public init(dataDirectory: URL, remote: (any RemoteBlobs)? = nil) throws(StorageError) {
        self.dataDirectory = dataDirectory
        self.remote = remote
        adopted = SyncBatcher(folder: dataDirectory.appendingPathComponent("blobs").path)
        for folder in ["blobs", "blobs/tmp"] {
            let url = dataDirectory.appendingPathComponent(folder)
            do {
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw .blobUnavailable(path: url.path, reason: error.localizedDescription)
            }
        }
    }

    /// Where content with this SHA-256 is kept, relative to the data folder.
    public static func relativePath(sha256: String) -> String {
        "blobs/\(sha256.prefix(2))/\(sha256)"
    }

    public func absolutePath(_ relativePath: String) -> String {
        dataDirectory.appendingPathComponent(relativePath).path
    }

    /// Copies a file into the store. `maxBytes` stops the copy early for oversized files. With `sync` false the
    /// caller must call `syncToDisk()` before recording the blob anywhere (one flush for many files).
    public func store(file path: String, maxBytes: Int64 = .max, sync: Bool = true) throws(StorageError) -> Stored {
        let source = open(path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw .blobUnavailable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(source) }
        return try store(maxBytes: maxBytes, sync: sync) { buffer in
            var count: Int
            repeat { count = read(source, buffer.baseAddress, buffer.count) } while count < 0 && errno == EINTR
            if count < 0 { throw StorageError.blobUnavailable(path: path, reason: String(cString: strerror(errno))) }
            return count
        }
    }

    public func store(data: Data) throws(StorageError) -> Stored {
        var offset = 0
        return try store(maxBytes: .max, sync: true) { buffer in
            let count = min(buffer.count, data.count - offset)
            if count > 0 {
                data.copyBytes(to: buffer.bindMemory(to: UInt8.self), from: offset..<offset + count)
            }
            offset += count
            return count
        }
    }

    private func store(maxBytes: Int64, sync: Bool, readChunk: (UnsafeMutableRawBufferPointer) throws -> Int) throws(StorageError) -> Stored {
        let temporary = dataDirectory.appendingPathComponent("blobs/tmp/\(UUID().uuidString)").path
        var keepTemporary = false
        defer {
            if !keepTemporary { unlink(temporary) }
        }
        let copied = try copy(to: temporary, maxBytes: maxBytes, sync: sync, readChunk: readChunk)
        let sha = copied.hasher.finalize().hexString
        let relative = Self.relativePath(sha256: sha)
        let final = absolutePath(relative)
        if access(final, F_OK) == 0 {
            return Stored(sha256: sha, size: copied.size, relativePath: relative, head: copied.head, isNew: false)
        }
        try place(temporary, at: final, sync: sync)
        keepTemporary = true
        return Stored(sha256: sha, size: copied.size, relativePath: relative, head: copied.head, isNew: true)
    }

    /// Copies the source into a new temporary file, hashing as it goes; fsynced unless `sync` is false.
    private func copy(to temporary: String, maxBytes: Int64, sync: Bool,
                      readChunk: (UnsafeMutableRawBufferPointer) throws -> Int) throws(StorageError) -> (hasher: SHA256, size: Int64, head: Data) {
        let output = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw .blobUnavailable(path: temporary, reason: String(cString: strerror(errno))) }
        defer { close(output) }
        var hasher = SHA256()
        var size: Int64 = 0
        var head = Data()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        do {
            while true {
                let count = try readChunk(buffer)
                if count == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                hasher.update(bufferPointer: chunk)
                if head.count < Self.headSize { head.append(contentsOf: chunk.prefix(Self.headSize - head.count)) }
                size += Int64(count)
                if size > maxBytes { throw StorageError.invalid("the file is larger than \(maxBytes) bytes") }
                try writeAll(chunk, to: output, path: temporary)
            }
            guard !sync || fsync(output) == 0 else { throw StorageError.blobUnavailable(path: temporary, reason: String(cString: strerror(errno))) }
        } catch let error as StorageError {
            throw error
        } catch {
            throw .blobUnavailable(path: temporary, reason: "\(error)")
        }
        return (hasher, size, head)
    }

    private func writeAll(_ chunk: UnsafeRawBufferPointer, to output: Int32, path: String) throws(StorageError) {
        var written = 0
        while written < chunk.count {
            let result = write(output, chunk.baseAddress! + written, chunk.count - written)
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw .blobUnavailable(path: path, reason: String(cString: strerror(errno))) }
            written += result
        }
    }

    /// A new path in the store's scratch folder, for a writer that hashes as it writes (an API upload arriving)
    /// and hands the file over with `adopt`: the bytes are written once.
    public func temporaryPath() -> String {
        dataDirectory.appendingPathComponent("blobs/tmp/\(UUID().uuidString)").path
    }

    /// Takes a finished file written at a `temporaryPath()`, whose SHA-256, size and first bytes its writer
    /// computed: renamed to its content name, or dropped when that content is stored already. Not yet durable:
    /// `adopted.sync()` makes it so, in one flush with every other upload arriving at the same time.
    public func adopt(_ temporary: String, sha256: String, size: Int64, head: Data) throws(StorageError) -> Stored {
        let relative = Self.relativePath(sha256: sha256)
        let final = absolutePath(relative)
        if access(final, F_OK) == 0 {
            unlink(temporary)
            return Stored(sha256: sha256, size: size, relativePath: relative, head: head, isNew: false)
        }
        try place(temporary, at: final, sync: false)
        return Stored(sha256: sha256, size: size, relativePath: relative, head: head, isNew: true)
    }

    /// Renames a finished temporary file to its content name; the rename is durable only once the folder's entry is.
    func place(_ temporary: String, at final: String, sync: Bool) throws(StorageError) {
        let folder = (final as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .blobUnavailable(path: folder, reason: error.localizedDescription)
        }
        guard rename(temporary, final) == 0 else { throw .blobUnavailable(path: final, reason: String(cString: strerror(errno))) }
        guard sync else { return }
        let directory = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// Makes every blob written with `sync: false` durable, contents and names, in one call (`syncfs`):
    /// a folder of 10,000 files pays one flush per chunk instead of two per file.
    public func syncToDisk() throws(StorageError) {
        let folder = dataDirectory.appendingPathComponent("blobs").path
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .blobUnavailable(path: folder, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        guard syncFileSystem(descriptor) == 0 else { throw .blobUnavailable(path: folder, reason: String(cString: strerror(errno))) }
    }

    /// Deletes a stored document's bytes (`/forget`, once no job uses them); a blob already gone is fine.
    public func remove(_ relativePath: String) throws(StorageError) {
        let path = absolutePath(relativePath)
        guard unlink(path) == 0 || errno == ENOENT else { throw .blobUnavailable(path: path, reason: String(cString: strerror(errno))) }
    }

    /// Removes temporary files left by a crash mid-copy or mid-upload, in the store's scratch folder and the
    /// data folder's `tmp/` (downloads, multipart uploads); recent ones may belong to another running process.
    public func removeLeftovers(olderThan age: TimeInterval = 3600) {
        Self.removeFiles(in: dataDirectory.appendingPathComponent("blobs/tmp"), olderThan: age)
        Self.removeFiles(in: dataDirectory.appendingPathComponent("tmp"), olderThan: age)
    }

    private static func removeFiles(in folder: URL, olderThan age: TimeInterval) {
        let cutoff = Date().addingTimeInterval(-age)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
            let path = folder.appendingPathComponent(name).path
            if let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date, modified < cutoff {
                unlink(path)
            }
        }
    }
}

