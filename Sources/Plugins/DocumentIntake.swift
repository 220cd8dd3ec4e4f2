import Foundation
import OCR
import Storage

/// Takes documents in: checks the content is something we read, stores the bytes once by SHA-256 and
/// records the document. Used by the batch command and the Telegram handler alike.
public struct DocumentIntake: Sendable {
    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case empty
        case unsupported(String)
        case tooLarge(bytes: Int64, limit: Int64)
        case unreadable(String)
        /// Our own store failed (disk full, I/O error): nothing is wrong with the file; try again later.
        case storeUnavailable(reason: String)

        public var description: String {
            switch self {
            case .empty: "the file is empty"
            case .unsupported(let hint): "not a supported document (\(hint))"
            case .tooLarge(let bytes, let limit): OCRError.fileTooLarge(bytes: Int(bytes), limit: Int(limit)).description
            case .unreadable(let reason): "the file cannot be read: \(reason)"
            case .storeUnavailable(let reason): "the document store cannot take it right now (\(reason))"
            }
        }
    }

    public let blobs: BlobStore
    public let maxBytes: Int64

    public init(blobs: BlobStore, maxBytes: Int64 = Int64(OCRLimits().maxBytes)) {
        self.blobs = blobs
        self.maxBytes = maxBytes
    }

    /// Stores a file and returns its document record (not yet saved to the database).
    /// The format is checked from the first bytes before anything is copied; the copy runs off the
    /// concurrency threads; with a shared blob store the document is in it before this returns.
    /// With `sync` false, call `blobs.syncToDisk()` before the document is saved (batch intake).
    public func take(file path: String, displayName: String, sync: Bool = true) async throws(Refusal) -> DocumentRecord {
        let local: (stored: BlobStore.Stored, format: DocumentFormat)
        do {
            local = try await BlockingWork.run { [self] in try storeLocally(file: path, sync: sync) }
        } catch let refusal as Refusal {
            throw refusal
        } catch {
            throw .storeUnavailable(reason: "\(error)")
        }
        try await publish(local.stored, format: local.format)
        return record(local.stored, format: local.format, displayName: displayName)
    }

    private func storeLocally(file path: String, sync: Bool) throws(Refusal) -> (stored: BlobStore.Stored, format: DocumentFormat) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .unreadable(String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .unreadable("not a regular file") }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .unreadable("permission denied") }
        let head = (try? handle.read(upToCount: 1024)) ?? Data()
        try? handle.close()
        let format = try check(size: Int64(info.st_size), head: head)
        do {
            return (try blobs.store(file: path, maxBytes: maxBytes, sync: sync), format)
        } catch {
            throw Self.refusal(error)
        }
    }

    /// Takes a file its writer put at a `blobs.temporaryPath()` and hashed on the way (an API upload): checked
    /// like any other, then renamed into the store instead of copied.
    public func take(adopting temporary: String, sha256: String, size: Int64, head: Data, displayName: String) async throws(Refusal) -> DocumentRecord {
        let format = try check(size: size, head: head)
        let stored: BlobStore.Stored
        do {
            stored = try await BlockingWork.run { [blobs] in try blobs.adopt(temporary, sha256: sha256, size: size, head: head) }
            // Its bytes and name on disk before anything records it (one flush for the uploads arriving together).
            try await blobs.adopted.sync()
        } catch let error as StorageError {
            throw Self.refusal(error)
        } catch {
            throw .storeUnavailable(reason: "\(error)")
        }
        try await publish(stored, format: format)
        return record(stored, format: format, displayName: displayName)
    }

    /// What every way in refuses: nothing, too much, or bytes that are no document we read (told by the first KB).
    private func check(size: Int64, head: Data) throws(Refusal) -> DocumentFormat {
        guard size > 0 else { throw .empty }
        guard size <= maxBytes else { throw .tooLarge(bytes: size, limit: maxBytes) }
        guard let format = DocumentFormat.detect(head) else { throw .unsupported(DocumentFormat.describeUnrecognized(head)) }
        return format
    }

    private func publish(_ stored: BlobStore.Stored, format: DocumentFormat) async throws(Refusal) {
        do {
            try await blobs.publish(stored, contentType: format.mimeType)
        } catch {
            throw Self.refusal(error)
        }
    }

    /// Stores bytes already in memory (tests and benchmarks).
    public func take(data: Data, displayName: String) async throws(Refusal) -> DocumentRecord {
        let format = try check(size: Int64(data.count), head: data.prefix(1024))
        let stored: BlobStore.Stored
        do {
            stored = try blobs.store(data: data)
        } catch {
            throw Self.refusal(error)
        }
        try await publish(stored, format: format)
        return record(stored, format: format, displayName: displayName)
    }

    /// A store failure in words that name no server path: the file's own read errors are the sender's
    /// problem, the store's are ours.
    private static func refusal(_ error: StorageError) -> Refusal {
        switch error {
        case .blobUnavailable(_, let reason), .databaseUnavailable(_, let reason): .storeUnavailable(reason: reason)
        case .invalid(let why): .unreadable(why)
        case .notFound, .leaseLost, .inUse, .newerSchema: .storeUnavailable(reason: error.description)
        }
    }

    private func record(_ stored: BlobStore.Stored, format: DocumentFormat, displayName: String) -> DocumentRecord {
        DocumentRecord(sha256: stored.sha256, format: format.rawValue, mimeType: format.mimeType, size: stored.size,
                       blobPath: stored.relativePath, originalName: Self.safeName(displayName))
    }

    /// Names are shown, never used as paths: keep the last path component, drop control characters and the
    /// invisible format characters that reorder or hide text (RTL overrides, zero-width joiners), cap the length.
    public static func safeName(_ name: String) -> String {
        let last = name.split(separator: "/").last.map(String.init) ?? name
        let cleaned = String(last.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) && $0.properties.generalCategory != .format }
            .map(Character.init))
            .trimmingCharacters(in: .whitespaces)
        let capped = cleaned.count > 120 ? String(cleaned.prefix(120)) : cleaned
        return capped.isEmpty || capped == "." || capped == ".." ? "document" : capped
    }
}
