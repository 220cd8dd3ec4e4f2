import Foundation

/// Why a file could not be read. Each case says what the sender or operator can do about it.
public enum OCRError: Error, Sendable, Equatable, CustomStringConvertible {
    case fileUnreadable(path: String, reason: String)
    case emptyFile
    case fileTooLarge(bytes: Int, limit: Int)
    case unsupportedFormat(hint: String)
    case imageTooLarge(width: Int, height: Int, limitPixels: Int)
    case tooManyPages(pages: Int, limit: Int)
    case corrupt(format: DocumentFormat, reason: String)
    case encryptedPDF
    case pdfToolFailed(tool: String, reason: String)
    case timedOut(seconds: Double)
    case engineUnavailable(reason: String)
    case shutDown

    public var description: String {
        switch self {
        case .fileUnreadable(let path, let reason):
            "cannot read \(path): \(reason)"
        case .emptyFile:
            "the file is empty"
        case .fileTooLarge(let bytes, let limit):
            "the file is \(Self.megabytes(bytes)), over the \(Self.megabytes(limit)) limit"
        case .unsupportedFormat(let hint):
            "not a supported document (\(hint)); send a JPEG, PNG, TIFF, WebP, BMP, GIF image or a PDF"
        case .imageTooLarge(let width, let height, let limit):
            "the image is \(width)×\(height) pixels, over the limit of \(limit / 1_000_000) megapixels"
        case .tooManyPages(let pages, let limit):
            "the document has \(pages) pages, over the limit of \(limit)"
        case .corrupt(let format, let reason):
            "the \(format.rawValue.uppercased()) file is damaged or incomplete (\(reason))"
        case .encryptedPDF:
            "the PDF is password-protected; send it without the password"
        case .pdfToolFailed(let tool, let reason):
            "\(tool) could not read the PDF: \(reason)"
        case .timedOut(let seconds):
            "reading the document took longer than \(Int(seconds)) s and was stopped"
        case .engineUnavailable(let reason):
            "the OCR engine is not available: \(reason)"
        case .shutDown:
            "the OCR engine is shutting down"
        }
    }

    /// A stable machine-readable name for logs, JSON output and the database.
    public var code: String {
        switch self {
        case .fileUnreadable: "file_unreadable"
        case .emptyFile: "empty_file"
        case .fileTooLarge: "file_too_large"
        case .unsupportedFormat: "unsupported_format"
        case .imageTooLarge: "image_too_large"
        case .tooManyPages: "too_many_pages"
        case .corrupt: "corrupt"
        case .encryptedPDF: "encrypted_pdf"
        case .pdfToolFailed: "pdf_tool_failed"
        case .timedOut: "timed_out"
        case .engineUnavailable: "engine_unavailable"
        case .shutDown: "shut_down"
        }
    }

    /// Whether trying the same file again could give another outcome.
    public var isTransient: Bool {
        switch self {
        case .timedOut, .engineUnavailable, .shutDown: true
        default: false
        }
    }

    static func megabytes(_ bytes: Int) -> String {
        String(format: "%.1f MB", Double(bytes) / 1_000_000)
    }
}
