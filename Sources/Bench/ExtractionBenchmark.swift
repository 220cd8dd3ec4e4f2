import ArgumentParser
import Foundation
import OCR
import Plugins
import Storage
import TestSupport

/// `botgateway-bench extract --corpus DIR`: total, date and merchant on real receipts (a folder whose
/// `manifest.json` entries have a `key`, as `../shared/corpora/receipts`), scored as the corpora's README says:
/// total equal as a number, date the same day (the truth is day-first), merchant a case-folded fuzzy match
/// (ratio ≥ 0.8) or containment. The images go through the real path — `botgateway batch` on a copy of the
/// folder, its analyses read from its database — with `ANALYZER=local`, and with `claude`/`openai` too when a key
/// or `OPENAI_BASE_URL` is set. The `tesseract FILE stdout` text goes through the local analyser in the same run,
/// and every miss is put down to the OCR (the truth is not in the text read) or to the extraction.
struct ExtractionBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "extract", abstract: "Total, date and merchant on real receipts, through botgateway batch.")

    @Option(help: "A folder with manifest.json, NAME.truth.txt and NAME.key.json (as ../shared/corpora/receipts).")
    var corpus: String

    @Option(help: "Engines in the pool.")
    var workers = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "A JSON file of the CLI's texts by image path (the OCR benchmark's --cli-cache), reused when present.")
    var cliCache: String?

    @Option(help: "Tuning aid: skip batch and analyse our OCR texts in-process, cached in this JSON file (written when absent).")
    var ocrCache: String?

    @Flag(help: "Print every miss with what was found and what the key says.")
    var misses = false

    @Option(help: "Print the local analysis JSON of these files (by name, e.g. sroie_005.jpg).")
    var show: [String] = []

    typealias Key = ReceiptKey

    struct Fields {
        var total: Bool
        var date: Bool
        var merchant: Bool
        var found: (total: String, date: String, merchant: String)
    }

    /// One way of reading and analysing the corpus: its analyses and the texts they came from.
    struct Run {
        var name: String
        var analyses: [Analysis?]
        var texts: [String]
        var seconds: Double
    }

    func run() async throws {
        let items = try OCRCorpus.load([corpus])
        let keys = try items.map(ReceiptKey.load)

        var runs: [Run] = []
        if let ocrCache {
            runs.append(try await cachedRun(items, cache: ocrCache))
        } else {
            let environment = ProcessInfo.processInfo.environment
            var analyzers = ["local"]
            if environment["ANTHROPIC_API_KEY"]?.isEmpty == false { analyzers.append("claude") }
            if environment["OPENAI_API_KEY"]?.isEmpty == false || environment["OPENAI_BASE_URL"]?.isEmpty == false { analyzers.append("openai") }
            for analyzer in analyzers { runs.append(try await batchRun(items, analyzer: analyzer)) }
        }

        let cliTexts = try await cliTexts(items)
        let analyzer = LocalAnalyzer()
        runs.append(Run(name: "tesseract CLI text + local", analyses: cliTexts.map { analyzer.analyze(text: $0) }, texts: cliTexts, seconds: 0))

        print("Field extraction on \(items.count) receipts from \(corpus)")
        print(pad("field", 10) + runs.map { pad($0.name, 30) }.joined())
        let scored = runs.map { run in zip(run.analyses, keys).map { Self.score($0 ?? Self.empty, $1) } }
        for (label, field) in [("total", \Fields.total), ("date", \Fields.date), ("merchant", \Fields.merchant)] {
            var line = pad(label, 10)
            for (runIndex, fields) in scored.enumerated() {
                let right = fields.filter { $0[keyPath: field] }.count
                let missed = zip(fields.indices, fields).filter { !$0.1[keyPath: field] }.map(\.0)
                let ocr = missed.filter { !Self.readable(label, keys[$0], in: runs[runIndex].texts[$0]) }.count
                line += pad(String(format: "%d/%d (%.0f %%) %d+%d", right, fields.count, 100 * Double(right) / Double(max(1, fields.count)),
                                   ocr, missed.count - ocr), 30)
            }
            print(line)
        }
        let timings = runs.filter { $0.seconds > 0 }.map { String(format: "%@: %.0f s", $0.name, $0.seconds) }
        print("(right/all (share), then misses the OCR caused + misses the extraction caused" + (timings.isEmpty ? "" : "; " + timings.joined(separator: ", ")) + ")")
        for (index, item) in items.enumerated() where show.contains(item.name) {
            print("\n\(item.name):\n" + String(decoding: try Analysis.encoder.encode(runs[0].analyses[index] ?? Self.empty), as: UTF8.self))
        }
        if misses { printMisses(runs, items: items, keys: keys, scored: scored) }
    }

    /// The CLI's text per receipt, from `--cli-cache` where it holds it.
    private func cliTexts(_ items: [OCRCorpus.Item]) async throws -> [String] {
        let cached = cliCache.flatMap { FileManager.default.contents(atPath: $0) }.flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:]
        var texts: [String] = []
        for item in items {
            if let text = cached[item.path] {
                texts.append(text)
            } else {
                guard let tesseract = which("tesseract") else { throw ValidationError("the baseline needs the tesseract CLI") }
                texts.append(try await ChildProcess.runOffPool([tesseract, item.path, "stdout"]).standardOutput)
            }
        }
        return texts
    }

    /// Every wrong field per run: what was found against the key, and whether the OCR had the key's text at all.
    private func printMisses(_ runs: [Run], items: [OCRCorpus.Item], keys: [ReceiptKey], scored: [[Fields]]) {
        for (runIndex, run) in runs.enumerated() {
            print("\nmisses, \(run.name) (found | key; OCR = the key is not in the text read):")
            for (index, item) in items.enumerated() {
                let fields = scored[runIndex][index], key = keys[index]
                for (label, right, found, truth) in [("total", fields.total, fields.found.total, key.total), ("date", fields.date, fields.found.date, key.date),
                                                      ("merchant", fields.merchant, fields.found.merchant, key.company)] where !right {
                    let cause = Self.readable(label, key, in: run.texts[index]) ? "" : " [OCR]"
                    print("  \(item.name) \(label): \(found) | \(truth ?? "-")\(cause)")
                }
            }
        }
    }

    static let empty = Analysis(documentType: "other", title: "", summary: "", language: "und", keyFacts: [], dates: [], amounts: [], parties: [], actionItems: [], confidence: 0)

    /// `botgateway batch` over a copy of the images, analyses and OCR texts from its database.
    func batchRun(_ items: [OCRCorpus.Item], analyzer: String) async throws -> Run {
        var environment = ProcessInfo.processInfo.environment
        environment["ANALYZER"] = analyzer
        environment["OCR_WORKERS"] = String(workers)
        environment["S3_BUCKET"] = nil
        let started = Date()
        return try await OCRCorpus.withBatch(items, environment: environment) { outcome, databasePath in
            let seconds = Date().timeIntervalSince(started)
            guard outcome.exitCode == 0 || outcome.exitCode == 1 else {
                throw ValidationError("botgateway batch (ANALYZER=\(analyzer)) exited \(outcome.exitCode): \(outcome.standardError.suffix(2000))")
            }
            let jobs = try await AppDatabase(path: databasePath).jobDetails(since: nil)
            var analyses = [Analysis?](repeating: nil, count: items.count), texts = [String](repeating: "", count: items.count)
            for details in jobs {
                guard let index = items.firstIndex(where: { $0.name == details.job.sourceName }) else { continue }
                analyses[index] = details.analysis
                texts[index] = details.document.ocrText ?? ""
            }
            return Run(name: "batch, ANALYZER=\(analyzer)", analyses: analyses, texts: texts, seconds: seconds)
        }
    }

    /// Our OCR in-process (or from the cache) and the local analyser on its texts.
    func cachedRun(_ items: [OCRCorpus.Item], cache: String) async throws -> Run {
        let ours = try await Self.ourTexts(items, workers: workers, cache: cache)
        let analyzer = LocalAnalyzer()
        return Run(name: "our OCR + local (cached)", analyses: ours.map { analyzer.analyze(text: $0) }, texts: ours, seconds: 0)
    }

    /// Each image's text as our OCR reads it in-process; with `cache`, read from that JSON file where it holds
    /// them, and written there when it did not.
    static func ourTexts(_ items: [OCRCorpus.Item], workers: Int, cache: String?) async throws -> [String] {
        let texts = try await readTexts(items.map(\.path), workers: workers, cache: cache) { missing in missing.map { ($0, .file($0)) } }
        return items.map { texts[$0.path] ?? "" }
    }

    /// Our OCR's text for each of `keys`, read all at once with `workers` engines: the texts in the `cache` file
    /// (JSON, by key) are taken from it, `inputs` makes what to read for the keys it lacks, and every text read is
    /// written back to the cache.
    static func readTexts(_ keys: [String], workers: Int, cache: String?,
                          inputs: ([String]) -> [(key: String, input: OCRInput)]) async throws -> [String: String] {
        var texts = cache.flatMap { FileManager.default.contents(atPath: $0) }.flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:]
        let missing = inputs(keys.filter { texts[$0] == nil })
        guard !missing.isEmpty else { return texts }
        var configuration = OCRConfiguration()
        configuration.workers = workers
        let pool = try await OCREnginePool(configuration: configuration)
        let read = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for (key, input) in missing {
                group.addTask { (key, (try? await pool.recognize(input))?.text ?? "") }
            }
            var read: [String: String] = [:]
            for try await (key, text) in group { read[key] = text }
            return read
        }
        await pool.shutdown()
        texts.merge(read) { $1 }
        if let cache { try JSONEncoder().encode(texts).write(to: URL(fileURLWithPath: cache)) }
        return texts
    }

    /// Whether the key's value can be found in the text at all: the total's digits with its cents, the date in
    /// any notation, the company's words on one line. A miss on a field the text does not hold is the OCR's.
    static func readable(_ field: String, _ key: Key, in text: String) -> Bool {
        switch field {
        case "total":
            guard let truth = key.total.flatMap(ReceiptKey.number) else { return false }
            return TextFacts.amounts(in: text).contains(truth)
        case "date":
            guard let truth = key.date.flatMap(ReceiptKey.dayFirst) else { return false }
            return TextFacts.dates(in: text).contains(truth)
        default:
            guard let company = key.company else { return false }
            return text.split(separator: "\n").contains { ReceiptKey.sameName(String($0), company) }
                || zip(text.split(separator: "\n"), text.split(separator: "\n").dropFirst()).contains { ReceiptKey.sameName($0 + " " + $1, company) }
        }
    }

    static func score(_ analysis: Analysis, _ key: Key) -> Fields {
        let total = analysis.primaryAmount.map { LocalAnalyzer.format($0.value) } ?? "-"
        let date = analysis.primaryDate ?? "-"
        let merchant = analysis.primaryIssuer ?? "-"
        return Fields(total: key.totalMatches(analysis.primaryAmount?.value), date: key.dateMatches(analysis.primaryDate),
                      merchant: key.companyMatches(analysis.primaryIssuer), found: (total, date, merchant))
    }
}
