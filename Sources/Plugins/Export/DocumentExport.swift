import Foundation
import OCR
import Storage

/// One row per document for a spreadsheet: what bulk uploaders file their receipts and invoices with.
public struct ExportRow: Sendable, Equatable {
    public var file: String
    public var job: String
    public var state: String
    public var type: String?
    public var date: String?
    public var merchant: String?
    public var total: Decimal?
    public var currency: String?
    public var tax: Decimal?
    public var language: String?
    /// Mean word confidence of the OCR, 0–100.
    public var ocrConfidence: Double?
    /// `local`, or the model that analysed it.
    public var analyser: String?
    public var costUSD: Double
    public var error: String?

    public static let columns = ["file", "job", "state", "type", "date", "merchant", "total", "currency", "tax", "language",
                                 "ocr_confidence", "analyser", "cost_usd", "error"]

    /// The row's cells as text, in `columns` order (empty for none).
    var cells: [String] {
        [file, job, state, type ?? "", date ?? "", merchant ?? "", total.map(LocalAnalyzer.format) ?? "", currency ?? "",
         tax.map(LocalAnalyzer.format) ?? "", language ?? "", ocrConfidence.map { String(format: "%.1f", $0) } ?? "", analyser ?? "",
         String(format: "%.4f", costUSD), error ?? ""]
    }
}

extension ExportRow {
    public init(_ details: JobDetails) {
        file = details.job.sourceName
        job = details.job.code
        state = details.job.state.rawValue
        error = details.job.lastError
        costUSD = details.usage.costUSD
        if let ocr = details.ocr {
            ocrConfidence = (ocr.confidence * 10).rounded() / 10
        }
        guard let analysis = details.analysis else { return }
        type = analysis.documentType
        date = analysis.primaryDate
        merchant = analysis.primaryIssuer
        let total = analysis.primaryAmount
        self.total = total?.value
        currency = total?.currency ?? analysis.currency
        tax = analysis.tax?.value
        language = analysis.language
        analyser = details.analyser ?? "local"
    }
}

/// How the rows are written.
public enum ExportFormat: String, Sendable, CaseIterable {
    /// RFC 4180 CSV, UTF-8, CRLF line ends.
    case csv
    /// The same CSV with a UTF-8 byte-order mark, which Excel and Numbers need to read non-ASCII text as UTF-8.
    case excel
    /// A JSON array of objects, numbers as numbers and null for none.
    case json

    /// `.json` → JSON, anything else → CSV for spreadsheets.
    public static func forPath(_ path: String) -> ExportFormat {
        path.lowercased().hasSuffix(".json") ? .json : .excel
    }
}

public enum DocumentExport {
    /// The jobs' rows written to `path` atomically; a file that cannot be written says where and why.
    public static func write(_ jobs: [JobDetails], as format: ExportFormat, to path: String) throws {
        let data = try render(jobs.map(ExportRow.init), as: format)
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw OutputWriteError(what: "export", path: path, reason: error.localizedDescription)
        }
    }

    public static func render(_ rows: [ExportRow], as format: ExportFormat) throws -> Data {
        switch format {
        case .csv, .excel:
            var text = ExportRow.columns.joined(separator: ",") + "\r\n"
            for row in rows { text += row.cells.map(csvField).joined(separator: ",") + "\r\n" }
            return (format == .excel ? Data([0xEF, 0xBB, 0xBF]) : Data()) + Data(text.utf8)
        case .json:
            let objects: [[String: Any]] = rows.map { row in
                var object: [String: Any] = [:]
                for (column, cell) in zip(ExportRow.columns, row.cells) { object[column] = cell.isEmpty ? NSNull() : cell }
                object["total"] = row.total.map { NSDecimalNumber(decimal: $0) } ?? NSNull()
                object["tax"] = row.tax.map { NSDecimalNumber(decimal: $0) } ?? NSNull()
                object["ocr_confidence"] = row.ocrConfidence ?? NSNull()
                object["cost_usd"] = row.costUSD
                return object
            }
            return try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        }
    }

    private static let plainNumber = try! NSRegularExpression(pattern: #"^[-+]?\d+(\.\d+)?$"#)

    /// One CSV field: a text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or CR first) gets a
    /// leading apostrophe, numbers stay numbers; quoted when it holds a comma, a quote or a line break.
    static func csvField(_ raw: String) -> String {
        var field = raw
        if let first = field.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first),
           plainNumber.firstMatch(in: field, range: NSRange(field.startIndex..., in: field)) == nil {
            field = "'" + field
        }
        guard field.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
