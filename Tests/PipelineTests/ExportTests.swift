import Foundation
@testable import Plugins
import Storage
import TestSupport
import Testing

/// `botgateway export` and `batch --export`: what a spreadsheet or a script reads back.
@Suite("Export")
struct ExportTests {
    static let awkward = ExportRow(
        file: "Quittung Café Zürich, März.jpg", job: "K7W2QP", state: "done", type: "receipt", date: "2024-03-14",
        merchant: #"ACME "Best" Bäckerei, Ltd. — 東京"#, total: Decimal(string: "-12.50"), currency: "EUR", tax: Decimal(string: "1.99"),
        language: "de", ocrConfidence: 91.25, analyser: "local", costUSD: 0, error: "line one\r\nline two")
    static let formulas = ExportRow(
        file: "=HYPERLINK(\"http://evil.example\",\"click\").png", job: "AB12CD", state: "failed", type: nil, date: nil,
        merchant: "+1 555 0100", total: nil, currency: nil, tax: nil, language: nil, ocrConfidence: nil, analyser: "@SUM(A1:A9)",
        costUSD: 0.0123, error: "-cmd|' /C calc'!A0")

    /// The file read back by Python's csv module, as a spreadsheet user's script would.
    static func pythonRows(_ data: Data) async throws -> [[String]] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString).csv").path
        try data.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = "import csv, json, sys\nwith open(sys.argv[1], encoding='utf-8-sig', newline='') as f:\n    print(json.dumps(list(csv.reader(f))))"
        let run = try await Child.run(["/usr/bin/env", "python3", "-c", script, path], environment: [:])
        #expect(run.code == 0, "\(run.error)")
        return try JSONDecoder().decode([[String]].self, from: Data(run.output.utf8))
    }

    @Test("CSV read by Python's csv module gives back every field: commas, quotes, line breaks, non-ASCII")
    func roundTrip() async throws {
        let rows = try await Self.pythonRows(try DocumentExport.render([Self.awkward], as: .csv))
        #expect(rows.first == ExportRow.columns)
        #expect(rows.count == 2)
        #expect(rows[1] == ["Quittung Café Zürich, März.jpg", "K7W2QP", "done", "receipt", "2024-03-14", #"ACME "Best" Bäckerei, Ltd. — 東京"#,
                            "-12.50", "EUR", "1.99", "de", "91.2", "local", "0.0000", "line one\r\nline two"])
    }

    @Test("cells a spreadsheet would run as formulas get an apostrophe; numbers stay numbers")
    func formulasNeutralised() async throws {
        let rows = try await Self.pythonRows(try DocumentExport.render([Self.formulas, Self.awkward], as: .excel))
        #expect(rows[1][0] == "'=HYPERLINK(\"http://evil.example\",\"click\").png")
        #expect(rows[1][5] == "'+1 555 0100")
        #expect(rows[1][11] == "'@SUM(A1:A9)")
        #expect(rows[1][13] == "'-cmd|' /C calc'!A0")
        #expect(rows[2][6] == "-12.50")
        for cell in rows.dropFirst().flatMap({ $0 }) { #expect(!"=+@".contains(cell.first ?? " "), "\(cell)") }
    }

    @Test("excel CSV starts with a UTF-8 byte-order mark, plain CSV does not; lines end in CRLF")
    func byteOrderMark() throws {
        let excel = try DocumentExport.render([Self.awkward], as: .excel)
        let plain = try DocumentExport.render([Self.awkward], as: .csv)
        #expect(Array(excel.prefix(3)) == [0xEF, 0xBB, 0xBF])
        #expect(Array(plain.prefix(4)) == Array("file".utf8))
        #expect(String(decoding: plain, as: UTF8.self).hasPrefix(ExportRow.columns.joined(separator: ",") + "\r\n"))
        #expect(ExportFormat.forPath("out.JSON") == .json && ExportFormat.forPath("out.csv") == .excel)
    }

    @Test("JSON keeps numbers as numbers and empty fields as null")
    func json() throws {
        let data = try DocumentExport.render([Self.awkward, Self.formulas], as: .json)
        let objects = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(objects.count == 2)
        #expect((objects[0]["total"] as? NSNumber)?.doubleValue == -12.5)
        #expect(objects[0]["merchant"] as? String == #"ACME "Best" Bäckerei, Ltd. — 東京"#)
        #expect(objects[1]["total"] is NSNull && objects[1]["date"] is NSNull)
        #expect((objects[1]["cost_usd"] as? NSNumber)?.doubleValue == 0.0123)
    }

    @Test("batch --export writes one row per document next to the report, and export reads the same from the database")
    func batchExport() async throws {
        let workspace = try BatchCommandTests.Workspace(files: [("receipt.jpg", "Café, receipt.jpg"), ("invoice.png", "invoice.png"), ("bad/truncated.jpg", "broken.jpg")])
        defer { workspace.remove() }
        let path = workspace.folder.appendingPathComponent("export.csv").path
        let run = try await workspace.batch(["--export", path])
        #expect(run.code == 1, "\(run.error)")
        let rows = try await Self.pythonRows(try Data(contentsOf: URL(fileURLWithPath: path)))
        let byFile = Dictionary(uniqueKeysWithValues: rows.dropFirst().map { ($0[0], $0) })
        #expect(byFile["invoice.png"]?[3...8] == ["invoice", "2024-03-14", "ACME Office Supplies Ltd.", "363.26", "USD", "26.91"])
        #expect(byFile["Café, receipt.jpg"]?[3...7] == ["receipt", "2024-02-03", "CORNER CAFE", "8.25", "GBP"])
        #expect(byFile["broken.jpg"]?[2] == "failed")
        #expect(byFile["broken.jpg"]?[13].isEmpty == false)
        #expect(!workspace.report.contains("export.csv"), "the export is not read as a document")

        let again = try await workspace.batch(["--export", path])
        let enqueued = BatchCommandTests.events(again.output).first { $0["event"] as? String == "enqueued" }
        #expect(enqueued?["files"] as? Int == 3 && enqueued?["skipped"] as? Int == 0, "a second run does not take its own export for input")
        let export = try await Child.run([Paths.binary, "export", "--format", "json"], environment: workspace.environment)
        #expect(export.code == 0, "\(export.error)")
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(export.output.utf8)) as? [[String: Any]])
        #expect(objects.count == 3)
        #expect(objects.contains { $0["file"] as? String == "invoice.png" && ($0["total"] as? NSNumber)?.doubleValue == 363.26 })
        let bad = try await Child.run([Paths.binary, "export", "--since", "yesterday"], environment: workspace.environment)
        #expect(bad.code != 0 && bad.error.contains("--since"))
    }

    @Test("a DEFAULT_CURRENCY that is not a currency code is a configuration error naming the variable")
    func badDefaultCurrency() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let run = try await Child.run([Paths.binary, "export"], environment: ["BOT_DATA_DIR": data.path, "DEFAULT_CURRENCY": "euros"])
        #expect(run.code == 2)
        #expect(run.error.contains("DEFAULT_CURRENCY"))
        let good = try await Child.run([Paths.binary, "export"], environment: ["BOT_DATA_DIR": data.path, "DEFAULT_CURRENCY": "eur"])
        #expect(good.code == 0, "\(good.error)")
        #expect(good.output.hasPrefix(ExportRow.columns.joined(separator: ",")))
    }
}
