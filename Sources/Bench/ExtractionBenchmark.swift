import ArgumentParser
import Foundation
import OCR
import Plugins
import TestSupport

/// `botgateway-bench extract --corpus DIR`: the offline analyser's total, date and merchant on real receipts
/// (a folder whose `manifest.json` entries have a `key`, as `../shared/corpora/receipts`), scored as the
/// corpora's README says: total equal as a number, date the same day (the truth is day-first), merchant a
/// case-folded fuzzy match (ratio ≥ 0.8) or containment. Our OCR text and the `tesseract FILE stdout` text go
/// through the same analyser in the same run, so the figure separates what OCR loses from what extraction loses.
struct ExtractionBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "extract", abstract: "Offline analyser's total, date and merchant on real receipts.")

    @Option(help: "A folder with manifest.json, NAME.truth.txt and NAME.key.json (as ../shared/corpora/receipts).")
    var corpus: String

    @Option(help: "Engines in the pool.")
    var workers = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "A JSON file of the CLI's texts by image path (the OCR benchmark's --cli-cache), reused when present.")
    var cliCache: String?

    @Option(help: "A JSON file of our OCR texts by image path, written after a run and reused when present (for tuning the analyser alone).")
    var ocrCache: String?

    @Flag(help: "Print every miss with what was found and what the key says.")
    var misses = false

    @Option(help: "Print the analysis JSON of these files (by name, e.g. sroie_005.jpg).")
    var show: [String] = []

    struct Key: Decodable {
        var company: String?
        var date: String?
        var total: String?
    }

    struct Fields {
        var total: Bool
        var date: Bool
        var merchant: Bool
        var found: (total: String, date: String, merchant: String)
    }

    func run() async throws {
        let items = try OCRCorpus.load([corpus])
        let root = URL(fileURLWithPath: corpus)
        var keys: [Key] = []
        for item in items {
            let name = URL(fileURLWithPath: item.name).deletingPathExtension().lastPathComponent
            let data = try Data(contentsOf: root.appendingPathComponent("\(name).key.json"))
            keys.append(try JSONDecoder().decode(Key.self, from: data))
        }

        let cached = cliCache.flatMap { FileManager.default.contents(atPath: $0) }.flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:]
        var cliTexts: [String] = []
        for item in items {
            if let text = cached[item.path] {
                cliTexts.append(text)
            } else {
                guard let tesseract = which("tesseract") else { throw ValidationError("the baseline needs the tesseract CLI") }
                cliTexts.append(try await ChildProcess.runOffPool([tesseract, item.path, "stdout"]).standardOutput)
            }
        }

        let ourCache = ocrCache.flatMap { FileManager.default.contents(atPath: $0) }.flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:]
        var ours = items.map { ourCache[$0.path] ?? "" }
        if items.contains(where: { ourCache[$0.path] == nil }) {
            var configuration = OCRConfiguration()
            configuration.workers = workers
            let pool = try await OCREnginePool(configuration: configuration)
            ours = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for (index, item) in items.enumerated() {
                    group.addTask { (index, (try? await pool.recognize(.file(item.path)))?.text ?? "") }
                }
                var texts = [String](repeating: "", count: items.count)
                for try await (index, text) in group { texts[index] = text }
                return texts
            }
            await pool.shutdown()
            if let ocrCache {
                try JSONEncoder().encode(Dictionary(uniqueKeysWithValues: zip(items.map(\.path), ours))).write(to: URL(fileURLWithPath: ocrCache))
            }
        }

        let analyzer = LocalAnalyzer()
        let ourFields = zip(ours, keys).map { Self.score(analyzer.analyze(text: $0), $1) }
        let cliFields = zip(cliTexts, keys).map { Self.score(analyzer.analyze(text: $0), $1) }

        func share(_ fields: [Fields], _ field: KeyPath<Fields, Bool>) -> String {
            String(format: "%d/%d (%.0f %%)", fields.filter { $0[keyPath: field] }.count, fields.count,
                   100 * Double(fields.filter { $0[keyPath: field] }.count) / Double(max(1, fields.count)))
        }
        print("Offline analyser on \(items.count) receipts from \(corpus)")
        print(pad("field", 10) + pad("our OCR", 18) + "tesseract CLI text")
        for (label, field) in [("total", \Fields.total), ("date", \Fields.date), ("merchant", \Fields.merchant)] {
            print(pad(label, 10) + pad(share(ourFields, field), 18) + share(cliFields, field))
        }
        for (index, item) in items.enumerated() where show.contains(item.name) {
            let analysis = analyzer.analyze(text: ours[index])
            print("\n\(item.name):\n" + String(decoding: try Analysis.encoder.encode(analysis), as: UTF8.self))
        }
        if misses {
            print("\nmisses with our OCR (found | key):")
            for (index, item) in items.enumerated() {
                let fields = ourFields[index], key = keys[index]
                if !fields.total { print("  \(item.name) total: \(fields.found.total) | \(key.total ?? "-")") }
                if !fields.date { print("  \(item.name) date: \(fields.found.date) | \(key.date ?? "-")") }
                if !fields.merchant { print("  \(item.name) merchant: \(fields.found.merchant) | \(key.company ?? "-")") }
            }
        }
    }

    static func score(_ analysis: Analysis, _ key: Key) -> Fields {
        let total = analysis.primaryAmount.map { LocalAnalyzer.format($0.value) } ?? "-"
        let date = analysis.primaryDate ?? "-"
        let merchant = analysis.primaryIssuer ?? "-"
        let totalMatches = analysis.primaryAmount.map { found in key.total.flatMap(number).map { $0 == found.value } ?? false } ?? false
        let dateMatches = key.date.flatMap(dayFirst).map { $0 == date } ?? false
        let merchantMatches = key.company.map { sameName(merchant, $0) } ?? false
        return Fields(total: totalMatches, date: dateMatches, merchant: merchantMatches, found: (total, date, merchant))
    }

    /// `RM 30.00`, `$8.20`, `1,234.50` → the number.
    static func number(_ text: String) -> Decimal? {
        let digits = text.filter { $0.isNumber || $0 == "." }
        return digits.isEmpty ? nil : Decimal(string: digits)
    }

    /// The key's day-first date (`09/01/2019`, `01-11-17`, `05 MAR 2018`, `20180304`) as `YYYY-MM-DD`.
    static func dayFirst(_ text: String) -> String? {
        let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        let parts = text.uppercased().split(whereSeparator: { " /-.".contains($0) }).map(String.init)
        var day: Int?, month: Int?, year: Int?
        if parts.count == 1, parts[0].count == 8, let value = Int(parts[0]) {
            (year, month, day) = (value / 10000, value / 100 % 100, value % 100)
        } else if parts.count == 3 {
            day = Int(parts[0])
            month = Int(parts[1]) ?? months.firstIndex(where: { parts[1].hasPrefix($0) }).map { $0 + 1 }
            year = Int(parts[2]).map { $0 < 100 ? 2000 + $0 : $0 }
        }
        guard let day, let month, let year, (1...31).contains(day), (1...12).contains(month) else { return nil }
        return String(format: "%04d-%02d-%02d", year, month, day)
    }

    /// Case-folded containment, or a similarity ratio (2 × longest common subsequence / total length) ≥ 0.8.
    static func sameName(_ found: String, _ truth: String) -> Bool {
        func fold(_ text: String) -> [Character] {
            Array(text.lowercased().filter { $0.isLetter || $0.isNumber || $0 == " " }.split(separator: " ").joined(separator: " "))
        }
        let a = fold(found), b = fold(truth)
        guard !a.isEmpty, !b.isEmpty else { return false }
        if String(a).contains(String(b)) || (a.count >= 4 && String(b).contains(String(a))) { return true }
        var previous = [Int](repeating: 0, count: b.count + 1)
        for x in a {
            var current = [0]
            current.reserveCapacity(b.count + 1)
            for (j, y) in b.enumerated() { current.append(x == y ? previous[j] + 1 : max(previous[j + 1], current[j])) }
            previous = current
        }
        return 2 * Double(previous[b.count]) / Double(a.count + b.count) >= 0.8
    }
}
