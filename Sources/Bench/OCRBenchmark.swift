import ArgumentParser
import Foundation
import OCR
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Reads the fixture corpus three ways and prints files/s, ratios, peak RSS and CER for each:
/// (a) `tesseract FILE stdout`, one process per file, default settings — what most bots do;
/// (b) the same CLI with OMP_THREAD_LIMIT=1, one file after another;
/// (b2) the same, with as many processes at once as the pool has engines (the strongest CLI setup);
/// (c) the engine pool with its default settings.
/// PDFs go through `pdftoppm -r 300 -gray` and the CLI page by page in (a) and (b): the CLI cannot read PDF.
struct OCRBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ocr", abstract: "Engine pool against the tesseract CLI on fixtures/.")

    @Option(help: "Folder with documents and ground-truth/NAME.txt.")
    var fixtures = "fixtures"

    @Option(help: "Rounds; the median is reported.")
    var rounds = 3

    @Option(help: "Engines in the pool and parallel CLI processes in (b); default: cores.")
    var workers = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "A folder of real documents with manifest.json and NAME.truth.txt (as in ../shared/corpora/*); repeatable. Replaces the fixture run.")
    var corpus: [String] = []

    @Option(help: "With --corpus: a JSON file for the CLI's texts, reused when present (tuning runs skip the slow CLI; no speed ratio then).")
    var cliCache: String?

    @Option(help: "With --corpus: the page layout our engine uses (choose, auto, block, sparse).")
    var layout: String = PageLayout.choose.rawValue

    struct Document {
        var path: String
        var name: String
        var truth: String
    }

    struct Mode {
        var label: String
        var seconds: [Double] = []
        var peakRSSKilobytes = 0
        var texts: [String: String] = [:]
    }

    func run() async throws {
        if !self.corpus.isEmpty {
            guard let tesseract = which("tesseract") else { throw ValidationError("the baseline needs the tesseract CLI (apt-get install tesseract-ocr)") }
            guard let layout = PageLayout(rawValue: layout) else { throw ValidationError("--layout: one of choose, auto, block, sparse") }
            return try await OCRCorpusRun(folders: self.corpus, workers: workers, cliCache: cliCache, layout: layout).run(tesseract: tesseract)
        }
        let corpus = try loadCorpus()
        guard !corpus.isEmpty else { throw ValidationError("no documents with ground truth in \(fixtures)") }
        guard let tesseract = which("tesseract"), which("pdftoppm") != nil else {
            throw ValidationError("the baselines need the tesseract CLI and pdftoppm (apt-get install tesseract-ocr poppler-utils)")
        }
        var baseEnvironment = ProcessInfo.processInfo.environment
        baseEnvironment.removeValue(forKey: "OMP_THREAD_LIMIT")
        var singleThreaded = baseEnvironment
        singleThreaded["OMP_THREAD_LIMIT"] = "1"

        var cliDefault = Mode(label: "(a) tesseract CLI, default, 1 process per file")
        var cliLimited = Mode(label: "(b) tesseract CLI, OMP_THREAD_LIMIT=1, 1 at a time")
        var cliParallel = Mode(label: "(b2) tesseract CLI, OMP_THREAD_LIMIT=1, \(workers) at once")
        var pooled = Mode(label: "(c) engine pool, \(workers) engines")

        var configuration = OCRConfiguration()
        configuration.workers = workers
        let pool = try await OCREnginePool(configuration: configuration)
        print("OCR benchmark: \(corpus.count) files, \(rounds) rounds (median), \(ProcessInfo.processInfo.activeProcessorCount) cores, tesseract \(OCREnginePool.tesseractVersion)")

        for round in 1...rounds {
            // Interleaved, so a noisy neighbour hurts every mode alike.
            let a = try timeCLI(corpus, tesseract: tesseract, environment: baseEnvironment, parallel: 1)
            cliDefault.record(a, first: round == 1)
            let b = try timeCLI(corpus, tesseract: tesseract, environment: singleThreaded, parallel: 1)
            cliLimited.record(b, first: round == 1)
            let b2 = try timeCLI(corpus, tesseract: tesseract, environment: singleThreaded, parallel: workers)
            cliParallel.record(b2, first: round == 1)
            let c = try await timePool(corpus, pool: pool)
            pooled.record(c, first: round == 1)
            print("  round \(round): (a) \(format(a.seconds)) s  (b) \(format(b.seconds)) s  (b2) \(format(b2.seconds)) s  (c) \(format(c.seconds)) s")
        }
        await pool.shutdown()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        pooled.peakRSSKilobytes = Int(usage.ru_maxrss)

        let overhead = try await poolOverhead(corpus)
        printResults(corpus, modes: [cliDefault, cliLimited, cliParallel, pooled], overhead: overhead)
    }

    /// Speed and memory per mode, the ratios against the CLI, and CER per file.
    private func printResults(_ corpus: [Document], modes: [Mode], overhead: (wall: Double, engine: Double)) {
        let (cliDefault, cliLimited, cliParallel, pooled) = (modes[0], modes[1], modes[2], modes[3])
        print("")
        print(pad("mode", 50) + pad("files/s", 10) + pad("median s", 10) + pad("peak RSS", 12) + "mean CER")
        for mode in [cliDefault, cliLimited, cliParallel, pooled] {
            let cer = corpus.map { cerOf(mode, $0) }.reduce(0, +) / Double(corpus.count)
            print(pad(mode.label, 50) + pad(format(Double(corpus.count) / mode.median), 10) + pad(format(mode.median), 10)
                  + pad("\(mode.peakRSSKilobytes / 1024) MB", 12) + String(format: "%.2f %%", cer * 100))
        }
        print("")
        print("speed-up of (c): \(format(cliDefault.median / pooled.median))× over (a) (target ≥ 2.5), "
              + "\(format(cliLimited.median / pooled.median))× over (b) (target ≥ 1.5), \(format(cliParallel.median / pooled.median))× over (b2)")
        print(String(format: "pool overhead with 1 engine: wall %.0f ms vs %.0f ms inside the engine: %.2f %% (target < 5 %%)",
                     overhead.wall, overhead.engine, (overhead.wall / overhead.engine - 1) * 100))
        print("peak RSS: (a)/(b) are the largest single tesseract process; (c) is this whole process with \(workers) engines")
        print("")
        print(pad("file", 34) + pad("CER (a)", 10) + pad("CER (b)", 10) + pad("CER (c)", 10) + "(c) ≤ (a) and (b)")
        // (b2) runs the same program with the same settings as (b); its text is identical.
        var worse = 0
        for document in corpus {
            let a = cerOf(cliDefault, document), b = cerOf(cliLimited, document), c = cerOf(pooled, document)
            let ok = c <= min(a, b) + 1e-9
            if !ok { worse += 1 }
            print(pad(document.name, 34) + pad(percent(a), 10) + pad(percent(b), 10) + pad(percent(c), 10) + (ok ? "yes" : "NO"))
        }
        print(worse == 0 ? "CER of (c) is lower or equal on every file." : "CER of (c) is higher on \(worse) file(s).")
    }

    private func loadCorpus() throws -> [Document] {
        let truthFolder = URL(fileURLWithPath: fixtures).appendingPathComponent("ground-truth")
        let names = try FileManager.default.contentsOfDirectory(atPath: truthFolder.path).filter { $0.hasSuffix(".txt") }.sorted()
        return names.compactMap { name in
            let document = String(name.dropLast(4))
            let path = URL(fileURLWithPath: fixtures).appendingPathComponent(document).path
            guard FileManager.default.fileExists(atPath: path),
                  let truth = try? String(contentsOf: truthFolder.appendingPathComponent(name), encoding: .utf8) else { return nil }
            return Document(path: path, name: document, truth: truth)
        }
    }

    struct Timing {
        var seconds: Double
        var peakRSSKilobytes: Int
        var texts: [String: String]
    }

    private func timeCLI(_ corpus: [Document], tesseract: String, environment: [String: String], parallel: Int) throws -> Timing {
        let results = ResultBox(count: corpus.count)
        let started = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: parallel) { lane in
            for index in stride(from: lane, to: corpus.count, by: parallel) {
                results.set(index, cliRead(corpus[index].path, tesseract: tesseract, environment: environment))
            }
        }
        let seconds = (ContinuousClock.now - started).seconds
        var texts: [String: String] = [:]
        var peak = 0
        for (document, result) in zip(corpus, results.values) {
            texts[document.name] = result.0
            peak = max(peak, result.1)
        }
        return Timing(seconds: seconds, peakRSSKilobytes: peak, texts: texts)
    }

    private func cliRead(_ path: String, tesseract: String, environment: [String: String]) -> (String, Int) {
        guard path.lowercased().hasSuffix(".pdf") else {
            guard let outcome = try? ChildProcess.run([tesseract, path, "stdout"], environment: environment, measureMemory: true) else { return ("", 0) }
            return (outcome.standardOutput, outcome.peakRSSKilobytes)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-pdf-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let render = try? ChildProcess.run(["pdftoppm", "-r", "300", "-gray", path, folder.appendingPathComponent("p").path],
                                           environment: environment, measureMemory: true)
        let pages = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        var text = "", peak = render?.peakRSSKilobytes ?? 0
        for page in pages {
            guard let outcome = try? ChildProcess.run([tesseract, folder.appendingPathComponent(page).path, "stdout"], environment: environment,
                                                      measureMemory: true) else { continue }
            text += outcome.standardOutput + "\n"
            peak = max(peak, outcome.peakRSSKilobytes)
        }
        return (text, peak)
    }

    private func timePool(_ corpus: [Document], pool: OCREnginePool) async throws -> Timing {
        let started = ContinuousClock.now
        let texts = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for document in corpus {
                group.addTask {
                    let text = try await pool.recognize(.file(document.path)).text
                    return (document.name, text)
                }
            }
            var texts: [String: String] = [:]
            for try await (name, text) in group { texts[name] = text }
            return texts
        }
        return Timing(seconds: (ContinuousClock.now - started).seconds, peakRSSKilobytes: 0, texts: texts)
    }

    /// One engine, documents one after another: the pool's wall time against the time measured inside the engine.
    private func poolOverhead(_ corpus: [Document]) async throws -> (wall: Double, engine: Double) {
        var configuration = OCRConfiguration()
        configuration.workers = 1
        let pool = try await OCREnginePool(configuration: configuration)
        var best = (wall: Double.infinity, engine: 1.0)
        for _ in 0..<max(1, rounds) {
            let started = ContinuousClock.now
            var engine = 0.0
            for document in corpus {
                engine += try await pool.recognize(.file(document.path)).timings.totalMilliseconds
            }
            let wall = (ContinuousClock.now - started).seconds * 1000
            if wall - engine < best.wall - best.engine { best = (wall, engine) }
        }
        await pool.shutdown()
        return best
    }

    private func cerOf(_ mode: Mode, _ document: Document) -> Double {
        TextAccuracy.characterErrorRate(recognized: mode.texts[document.name] ?? "", reference: document.truth)
    }
}

extension OCRBenchmark.Mode {
    mutating func record(_ timing: OCRBenchmark.Timing, first: Bool) {
        seconds.append(timing.seconds)
        peakRSSKilobytes = max(peakRSSKilobytes, timing.peakRSSKilobytes)
        if first { texts = timing.texts }
    }

    var median: Double {
        let sorted = seconds.sorted()
        return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
    }
}

/// Slots filled from concurrentPerform lanes, one index per lane, read after they all finish.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [(String, Int)]

    init(count: Int) {
        slots = Array(repeating: ("", 0), count: count)
    }

    func set(_ index: Int, _ value: (String, Int)) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    var values: [(String, Int)] {
        lock.lock()
        defer { lock.unlock() }
        return slots
    }
}

private func format(_ value: Double) -> String { String(format: "%.2f", value) }
private func percent(_ value: Double) -> String { String(format: "%.2f %%", value * 100) }

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
