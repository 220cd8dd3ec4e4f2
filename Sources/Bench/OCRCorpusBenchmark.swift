import ArgumentParser
import Foundation
import OCR
import TestSupport

/// `botgateway-bench ocr --corpus DIR`: real documents with human ground truth (any folder with a
/// `manifest.json` of `{"file", "truth", "kind"}`, as in `../shared/corpora/`), read by `tesseract FILE stdout`
/// (default settings, one process per file, one after another: what most bots run) and by the engine pool, in
/// the same run. Per image and per kind: word recall (the scribeocr benchmark's metric: order-free, punctuation
/// at word ends ignored; case folded for sets whose truth is not in the printed case), character error rate
/// (whitespace ignored for sets whose truth drops spaces), files/s and the ratio.
struct OCRCorpusRun {
    typealias Item = OCRCorpus.Item

    let folders: [String]
    let workers: Int
    /// A JSON file of the CLI's texts by image path: reused when present (for tuning runs; no speed ratio then),
    /// written after a run that read them.
    var cliCache: String?
    var layout: PageLayout = .choose

    /// The first page's corrections, size and confidence, to see why an image reads as it does.
    static func describe(_ result: OCRResult) -> String {
        guard let page = result.pages.first else { return "no page" }
        let c = page.corrections
        var parts = ["\(page.width)×\(page.height)", String(format: "conf %.0f", page.confidence)]
        if c.quarterTurns != 0 { parts.append("turned \(c.quarterTurns)") }
        if abs(c.deskewDegrees) >= 0.05 { parts.append(String(format: "deskew %.1f°", c.deskewDegrees)) }
        if c.scale != 1 { parts.append(String(format: "scale %.2f", c.scale)) }
        if c.contrastStretched { parts.append("stretched") }
        if c.thickened == true { parts.append("thickened") }
        if c.smoothed == true { parts.append("smoothed") }
        if let cells = c.screenedCells { parts.append("\(cells) screened cells") }
        if let crop = c.crop, crop.count == 4 { parts.append("cropped to \(crop[2])×\(crop[3]) at \(crop[0]),\(crop[1])") }
        if let layout = page.layout { parts.append(layout) }
        if c.columns == 2 { parts.append("columns") }
        if let height = c.textHeight { parts.append(String(format: "text %.0f px", height)) }
        parts.append("\(Int(result.timings.totalMilliseconds)) ms")
        return parts.joined(separator: ", ")
    }

    func run(tesseract: String) async throws {
        let items = try OCRCorpus.load(folders)
        guard !items.isEmpty else { throw ValidationError("the manifests list no images") }
        var cliEnvironment = ProcessInfo.processInfo.environment
        cliEnvironment.removeValue(forKey: "OMP_THREAD_LIMIT")
        print("OCR on real documents: \(items.count) images from \(folders.joined(separator: ", ")); tesseract \(OCREnginePool.tesseractVersion), "
              + "\(ProcessInfo.processInfo.activeProcessorCount) cores")

        let (cliTexts, cliSeconds) = try await cliTexts(items, tesseract: tesseract, environment: cliEnvironment)
        let poolStarted = ContinuousClock.now
        let results = try await ourResults(items)
        let poolSeconds = (ContinuousClock.now - poolStarted).seconds
        let cliScores = zip(cliTexts, items).map { OCRCorpus.score($0, $1) }
        let ourScores = zip(results.map { $0?.text ?? "" }, items).map { OCRCorpus.score($0, $1) }
        printTables(items, results: results, cli: cliScores, ours: ourScores)

        let below = items.indices.filter { ourScores[$0].recall < cliScores[$0].recall - 0.02 }
        print("")
        if let cliSeconds {
            print(String(format: "speed: CLI %.2f files/s (%.1f s), engine pool with %d engines %.2f files/s (%.1f s): %.1f× the CLI",
                         Double(items.count) / cliSeconds, cliSeconds, workers, Double(items.count) / poolSeconds, poolSeconds, cliSeconds / poolSeconds))
        } else {
            print(String(format: "speed: engine pool with %d engines %.2f files/s (%.1f s)", workers, Double(items.count) / poolSeconds, poolSeconds))
        }
        print(below.isEmpty ? "no image is more than 2 points of recall below the CLI"
              : "more than 2 points of recall below the CLI: " + below.map { "\(items[$0].set)/\(items[$0].name)" }.joined(separator: ", "))
    }

    /// The CLI as most bots run it: default settings, one process per file, one file after another; with
    /// `--cli-cache`, its texts from an earlier run (and no speed figure).
    private func cliTexts(_ items: [OCRCorpus.Item], tesseract: String, environment: [String: String]) async throws -> ([String], Double?) {
        let cached = cliCache.flatMap { FileManager.default.contents(atPath: $0) }.flatMap { try? JSONDecoder().decode([String: String].self, from: $0) }
        if let cached, items.allSatisfy({ cached[$0.path] != nil }) {
            print("(the CLI's texts come from \(cliCache ?? ""): no speed comparison in this run)")
            return (items.map { cached[$0.path] ?? "" }, nil)
        }
        var texts: [String] = []
        let started = ContinuousClock.now
        for item in items {
            texts.append(try await ChildProcess.runOffPool([tesseract, item.path, "stdout"], environment: environment).standardOutput)
        }
        let seconds = (ContinuousClock.now - started).seconds
        if let cliCache {
            try JSONEncoder().encode(Dictionary(zip(items.map(\.path), texts)) { first, _ in first }).write(to: URL(fileURLWithPath: cliCache))
        }
        return (texts, seconds)
    }

    /// Our engine pool over every image at once, as the gateway runs it; nil where reading failed.
    private func ourResults(_ items: [OCRCorpus.Item]) async throws -> [OCRResult?] {
        var configuration = OCRConfiguration()
        configuration.workers = workers
        configuration.layout = layout
        let pool = try await OCREnginePool(configuration: configuration)
        let results = try await withThrowingTaskGroup(of: (Int, OCRResult?).self) { group in
            for (index, item) in items.enumerated() {
                group.addTask { (index, try? await pool.recognize(.file(item.path))) }
            }
            var results = [OCRResult?](repeating: nil, count: items.count)
            for try await (index, result) in group { results[index] = result }
            return results
        }
        await pool.shutdown()
        return results
    }

    /// One line per image, then the means per set and kind.
    private func printTables(_ items: [OCRCorpus.Item], results: [OCRResult?], cli cliScores: [OCRCorpus.Score], ours ourScores: [OCRCorpus.Score]) {
        print("")
        print(pad("image", 34) + pad("kind", 14) + pad("recall CLI", 12) + pad("recall ours", 12) + pad("CER CLI", 10) + pad("CER ours", 10)
              + "what our engine did")
        for (index, item) in items.enumerated() {
            let mark = ourScores[index].recall < cliScores[index].recall - 0.02 ? "← below the CLI " : ""
            print(pad("\(item.set)/\(item.name)", 34) + pad(item.kind, 14) + pad(percent(cliScores[index].recall), 12)
                  + pad(percent(ourScores[index].recall), 12) + pad(percent(cliScores[index].cer), 10) + pad(percent(ourScores[index].cer), 10)
                  + mark + (results[index].map(Self.describe) ?? "failed"))
        }

        print("")
        print(pad("set / kind", 30) + pad("images", 8) + pad("recall CLI", 12) + pad("recall ours", 12) + pad("CER CLI", 10) + "CER ours")
        func summarize(_ label: String, _ indices: [Int]) {
            func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(1, values.count)) }
            print(pad(label, 30) + pad("\(indices.count)", 8) + pad(percent(mean(indices.map { cliScores[$0].recall })), 12)
                  + pad(percent(mean(indices.map { ourScores[$0].recall })), 12) + pad(percent(mean(indices.map { cliScores[$0].cer })), 10)
                  + percent(mean(indices.map { ourScores[$0].cer })))
        }
        for set in Set(items.map(\.set)).sorted() {
            let inSet = items.indices.filter { items[$0].set == set }
            summarize(set, inSet)
            let kinds = Set(inSet.map { items[$0].kind }).sorted()
            if kinds.count > 1 {
                for kind in kinds { summarize("  " + kind, inSet.filter { items[$0].kind == kind }) }
            }
        }
        summarize("all", Array(items.indices))

    }
}

private func percent(_ value: Double) -> String { String(format: "%.1f %%", value * 100) }
