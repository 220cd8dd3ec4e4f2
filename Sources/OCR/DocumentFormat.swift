import Foundation

/// What a file is, decided by its first bytes; the name and the sender's MIME type are never trusted.
public enum DocumentFormat: String, Sendable, Codable, CaseIterable {
    case jpeg, png, tiff, webp, bmp, gif, jp2, pnm, pdf

    public var mimeType: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .tiff: "image/tiff"
        case .webp: "image/webp"
        case .bmp: "image/bmp"
        case .gif: "image/gif"
        case .jp2: "image/jp2"
        case .pnm: "image/x-portable-anymap"
        case .pdf: "application/pdf"
        }
    }

    public var fileExtension: String {
        switch self {
        case .jpeg: "jpg"
        case .tiff: "tif"
        default: rawValue
        }
    }

    /// Sniffs the format from the leading bytes (at least 16 are needed; 1 KiB is enough for a PDF).
    public static func detect<Bytes: Collection>(_ head: Bytes) -> DocumentFormat? where Bytes.Element == UInt8 {
        let b = Array(head.prefix(1024))
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + prefix.count && Array(b[offset..<offset + prefix.count]) == prefix
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts([0x42, 0x4D]) && b.count >= 26 { return .bmp }
        if starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || starts([0xFF, 0x4F, 0xFF, 0x51]) { return .jp2 }
        if b.count >= 3, b[0] == 0x50, (0x31...0x36).contains(b[1]), [0x0A, 0x0D, 0x20, 0x09].contains(b[2]) { return .pnm }
        // PDF readers accept the header anywhere in the first 1024 bytes.
        let marker = Array("%PDF-".utf8)
        if b.count >= marker.count {
            for start in 0...(b.count - marker.count) where b[start] == 0x25 {
                if Array(b[start..<start + marker.count]) == marker { return .pdf }
            }
        }
        return nil
    }

    /// Words for content that is not a document we read, for the refusal message.
    public static func describeUnrecognized(_ head: Data) -> String {
        let bytes = Array(head.prefix(64))
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return "a ZIP archive or Office document" }
        if bytes.starts(with: [0x1F, 0x8B]) { return "a gzip archive" }
        if bytes.count >= 12, Array(bytes[4..<8]) == Array("ftyp".utf8) { return "a HEIC/MP4 file" }
        let printable = bytes.filter { $0 == 9 || $0 == 10 || $0 == 13 || (32...126).contains($0) }.count
        if !bytes.isEmpty, printable * 10 >= bytes.count * 9 { return "plain text" }
        return "unknown content"
    }
}
