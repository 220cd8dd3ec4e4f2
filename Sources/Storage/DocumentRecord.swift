import Foundation
import GRDB

/// A stored document: one row per distinct content (SHA-256), however many times it was sent.
public struct DocumentRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "document"

    public var sha256: String
    public var format: String
    public var mimeType: String
    public var size: Int64
    /// Relative to the data folder, so the folder can be moved.
    public var blobPath: String
    /// The name it first arrived under (display only; never used as a path).
    public var originalName: String
    public var pages: Int?
    public var ocrText: String?
    /// The full `OCRResult` JSON, reused when the same document comes again.
    public var ocrResult: Data?
    public var createdAt: Timestamp

    public init(sha256: String, format: String, mimeType: String, size: Int64, blobPath: String, originalName: String,
                pages: Int? = nil, ocrText: String? = nil, ocrResult: Data? = nil, createdAt: Timestamp = .now) {
        self.sha256 = sha256
        self.format = format
        self.mimeType = mimeType
        self.size = size
        self.blobPath = blobPath
        self.originalName = originalName
        self.pages = pages
        self.ocrText = ocrText
        self.ocrResult = ocrResult
        self.createdAt = createdAt
    }
}

extension DocumentRecord {
    /// Decoded by hand: GRDB's Codable decoding costs tens of microseconds a row on the claim path.
    /// Rows without the OCR columns (the claim leaves them out) decode with them nil.
    public init(row: Row) throws {
        sha256 = row["sha256"]
        format = row["format"]
        mimeType = row["mimeType"]
        size = row["size"]
        blobPath = row["blobPath"]
        originalName = row["originalName"]
        pages = row["pages"]
        ocrText = row.hasColumn("ocrText") ? row["ocrText"] : nil
        ocrResult = row.hasColumn("ocrResult") ? row["ocrResult"] : nil
        createdAt = row["createdAt"]
    }
}
