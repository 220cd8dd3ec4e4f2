import ArgumentParser
import Foundation
import Logging
import Plugins
import Storage
import TestSupport
import UseCases

/// `botgateway-bench ask --corpus DIR`: how well `/ask` finds a person's receipts, on real receipts with their
/// keys (`../shared/corpora/receipts`). Every receipt is one document of one person (our OCR, the local
/// analyser), and two questions are asked per receipt: "How much did I spend at SHOP?" (the first two words of
/// the key's company without its legal form, "MR. D.I.Y. (M) SDN BHD" → "mr diy") and "receipts on 14 March 2018" (the key's date). The right answer is every receipt
/// whose key names that company (or date). The obvious alternative in the same run is `/search` with the
/// same words (the shop's name; the date as the key prints it).
struct AskBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ask", abstract: "How well /ask finds real receipts by shop and by date, against /search.")

    @Option(help: "A folder with manifest.json and NAME.key.json (as ../shared/corpora/receipts).")
    var corpus: String

    @Option(help: "Engines in the pool.")
    var workers = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "A JSON file of our OCR texts by image path, reused when present (written when absent).")
    var ocrCache: String?

    @Flag(help: "Print every question not answered exactly.")
    var misses = false

    /// One question's outcome: what was found against the right set.
    struct Score {
        var found: [Int]
        var right: Set<Int>
        var target: Int
        var totalRight: Bool?

        var hit: Bool { found.contains(target) }
        var top: Bool { found.first.map(right.contains) ?? false }
        var exact: Bool { Set(found) == right }
        var precision: Double { found.isEmpty ? 0 : Double(found.filter(right.contains).count) / Double(found.count) }
    }

    static let legalForms: Set<String> = ["sdn", "bhd", "berhad", "plc", "ltd", "llc", "inc", "co", "m", "pte", "s", "b"]

    func run() async throws {
        let items = try OCRCorpus.load([corpus])
        let keys = try items.map(ReceiptKey.load)
        let started = Date()
        let texts = try await ExtractionBenchmark.ourTexts(items, workers: workers, cache: ocrCache)
        let ocrSeconds = Date().timeIntervalSince(started)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ask-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try AppDatabase(path: folder.appendingPathComponent("botgateway.sqlite").path)
        var codes: [String: Int] = [:]
        let analyzer = LocalAnalyzer()
        for (index, item) in items.enumerated() {
            let code = try await ReadDocuments.add(to: store, user: 1, document: ReadDocuments.document(seed: index + 1, name: item.name), name: item.name,
                                                   text: texts[index], analysis: try analyzer.analyze(text: texts[index]).json())
            codes[code] = index
        }
        let service = StoreAskService(documents: store, usage: store, answerer: nil, dailyLimit: 100_000,
                                      logger: Logger(label: "ask", factory: { _ in SwiftLogNoOpLogHandler() }))
        let me = Requester(chatID: 1, userID: 1, isAdmin: false)

        var rows: [(kind: String, question: String, ours: Score, search: Score)] = []
        var askSeconds = 0.0
        for (index, key) in keys.enumerated() {
            var questions: [(kind: String, ask: String, search: String, right: Set<Int>)] = []
            if let company = key.company {
                let name = QuestionParser.words(company).filter { !Self.legalForms.contains($0) }.prefix(2).joined(separator: " ")
                let right = Set(keys.indices.filter { keys[$0].company.map { ReceiptKey.sameName($0, company) } ?? false })
                if !name.isEmpty { questions.append(("shop", "How much did I spend at \(name)?", name, right)) }
            }
            if let raw = key.date, let day = key.date.flatMap(ReceiptKey.dayFirst), let written = Self.written(day) {
                let right = Set(keys.indices.filter { keys[$0].date.flatMap(ReceiptKey.dayFirst) == day })
                questions.append(("date", "receipts on \(written)", raw, right))
            }
            for question in questions {
                let clock = Date()
                let outcome = try await service.ask(question.ask, for: me, languageCode: nil)
                askSeconds += Date().timeIntervalSince(clock)
                guard case .answered(let answer) = outcome else { continue }
                let found = answer.findings.matches.compactMap { codes[$0.jobCode] }
                var ours = Score(found: found, right: question.right, target: index)
                if question.kind == "shop" {
                    let truth = question.right.compactMap { keys[$0].total.flatMap(ReceiptKey.number) }.reduce(Decimal(0), +)
                    let sum = answer.findings.totals.reduce(Decimal(0)) { $0 + $1.value }
                    ours.totalRight = sum == truth
                }
                let hits = try await store.searchDocuments(question.search, owner: .chat(1), limit: 50).compactMap { codes[$0.jobCode] }
                rows.append((question.kind, question.ask, ours, Score(found: hits, right: question.right, target: index)))
            }
        }

        print("/ask on \(items.count) receipts of one person from \(corpus) (our OCR \(String(format: "%.0f", ocrSeconds)) s, local analyser)")
        print(pad("questions", 22) + pad("found", 16) + pad("first right", 16) + pad("exactly right", 16) + pad("precision", 12) + "total right")
        for kind in ["shop", "date"] {
            let picked = rows.filter { $0.kind == kind }
            for (label, scores) in [("\(kind): /ask", picked.map(\.ours)), ("\(kind): /search", picked.map(\.search))] {
                let count = scores.count
                func share(_ test: (Score) -> Bool) -> String {
                    let right = scores.filter(test).count
                    return String(format: "%d/%d (%.0f %%)", right, count, 100 * Double(right) / Double(max(1, count)))
                }
                let precision = scores.map(\.precision).reduce(0, +) / Double(max(1, count))
                let totals = scores.compactMap(\.totalRight)
                print(pad(label, 22) + pad(share(\.hit), 16) + pad(share(\.top), 16) + pad(share(\.exact), 16) + pad(String(format: "%.2f", precision), 12)
                      + (totals.isEmpty ? "-" : String(format: "%d/%d", totals.filter { $0 }.count, totals.count)))
            }
        }
        print(String(format: "(%.1f ms per question over %d questions; found: the receipt asked about is in the answer; exactly right: the answer is every receipt of that shop or day and no other; total right: the answer's total is the keys' total of those receipts)",
                     1000 * askSeconds / Double(max(1, rows.count)), rows.count))
        if misses {
            print("\nnot exactly right (/ask): question → found | right")
            for row in rows where !row.ours.exact {
                print("  \(row.question) → \(row.ours.found.map { items[$0].name }) | \(row.ours.right.sorted().map { items[$0].name })")
            }
        }
    }

    /// `2018-03-14` → "14 March 2018".
    static func written(_ iso: String) -> String? {
        let parts = iso.split(separator: "-").compactMap { Int($0) }
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        guard parts.count == 3, (1...12).contains(parts[1]) else { return nil }
        return "\(parts[2]) \(months[parts[1] - 1]) \(parts[0])"
    }
}
