import ArgumentParser
import Foundation
import OCR
import Plugins
import TestSupport

/// `botgateway-bench pages --corpus DIR…`: how often the album rule (`PageContinuity`) keeps photos together
/// when they are one document and apart when they are not, on real documents.
/// - One document: every corpus image cut into 2 and into 3 overlapping bands (`PagePhotos`: a long receipt or a
///   page photographed in parts), each band read by our OCR on its own.
/// - Distinct documents: every run of 2 and of 3 neighbouring images of the same corpus (an album of receipts,
///   of forms), and pairs across corpora (a receipt with a form).
/// Alternatives in the same run: "keep every album apart" (what the gateway did before) and "merge every album
/// of photos". For receipts with keys it also scores the merged document's total against the key, next to the
/// whole image's.
struct PageSetBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pages", abstract: "How well albums are kept together or apart, on real documents.")

    @Option(help: "A corpus folder with manifest.json (repeatable).")
    var corpus: [String]

    @Option(help: "Engines in the pool.")
    var workers = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "A JSON file of OCR texts by image and band, reused when present (written when absent).")
    var ocrCache: String?

    @Flag(help: "Print every album decided wrongly.")
    var misses = false

    struct Album {
        var set: String
        var names: [String]
        var texts: [String]
        var oneDocument: Bool
        /// For a receipt cut into bands: the key, to score the merged total.
        var key: ReceiptKey?
    }

    func run() async throws {
        let items = try OCRCorpus.load(corpus)
        let texts = try await readAll(items)
        var albums: [Album] = []
        for item in items {
            let key = try? ReceiptKey.load(for: item)
            for count in [2, 3] {
                let bands = (0..<count).map { texts["\(item.path)#\($0)/\(count)"] ?? "" }
                albums.append(Album(set: item.set, names: ["\(item.name) in \(count) bands"], texts: bands, oneDocument: true, key: key))
            }
        }
        let bySet = Dictionary(grouping: items, by: \.set)
        for (set, members) in bySet.sorted(by: { $0.key < $1.key }) {
            for size in [2, 3] where members.count >= size {
                for start in 0...(members.count - size) {
                    let run = Array(members[start..<(start + size)])
                    albums.append(Album(set: set, names: run.map(\.name), texts: run.map { texts[$0.path] ?? "" }, oneDocument: false))
                }
            }
        }
        let sets = bySet.keys.sorted()
        for (first, second) in zip(sets, sets.dropFirst() + sets.prefix(1)) where first != second {
            for (a, b) in zip(bySet[first] ?? [], bySet[second] ?? []) {
                albums.append(Album(set: "mixed", names: [a.name, b.name], texts: [texts[a.path] ?? "", texts[b.path] ?? ""], oneDocument: false))
            }
        }

        print("album decisions on real documents (PageContinuity vs keeping every album apart vs merging every album of photos)")
        print(pad("set", 28) + "albums  kind            ours right   apart right   merge right")
        var ours = 0, apart = 0, merged = 0
        let started = ContinuousClock.now
        var verdicts: [PageContinuity.Verdict] = []
        for album in albums { verdicts.append(PageContinuity.decide(pages: album.texts)) }
        let decideMs = (ContinuousClock.now - started).milliseconds / Double(max(albums.count, 1))
        for set in sets + ["mixed"] {
            for oneDocument in [true, false] {
                let chosen = albums.indices.filter { albums[$0].set == set && albums[$0].oneDocument == oneDocument }
                guard !chosen.isEmpty else { continue }
                let correct = chosen.filter { verdicts[$0].merges == oneDocument }.count
                ours += correct
                apart += oneDocument ? 0 : chosen.count
                merged += oneDocument ? chosen.count : 0
                let kind = oneDocument ? "one document    " : "distinct docs   "
                let columns = [right(percent(correct, chosen.count), 10), right(percent(oneDocument ? 0 : chosen.count, chosen.count), 14),
                               right(percent(oneDocument ? chosen.count : 0, chosen.count), 14)]
                print(pad(set, 28) + right(String(chosen.count), 6) + "  " + kind + columns.joined())
                if misses {
                    for index in chosen where verdicts[index].merges != oneDocument {
                        print("    wrong: \(albums[index].names.joined(separator: " + ")) — \(verdicts[index].reason)")
                    }
                }
            }
        }
        print(pad("all", 28) + right(String(albums.count), 6) + "                "
              + right(percent(ours, albums.count), 10) + right(percent(apart, albums.count), 14) + right(percent(merged, albums.count), 14))
        print(String(format: "decision: %.2f ms per album (after OCR)", decideMs))

        // One analysis over all pages: the merged receipt's total against its key, next to the whole image's.
        let analyzer = LocalAnalyzer()
        let keyed = albums.filter { $0.key != nil && $0.oneDocument }
        if !keyed.isEmpty {
            var mergedRight = 0
            for album in keyed where album.key?.totalMatches(analyzer.analyze(text: album.texts.joined(separator: "\n\n")).primaryAmount?.value) == true {
                mergedRight += 1
            }
            let wholeItems = items.filter { (try? ReceiptKey.load(for: $0)) != nil }
            let wholeRight = wholeItems.filter { item in
                (try? ReceiptKey.load(for: item))?.totalMatches(analyzer.analyze(text: texts[item.path] ?? "").primaryAmount?.value) == true
            }.count
            print("receipt total right: merged bands \(mergedRight)/\(keyed.count) (\(percent(mergedRight, keyed.count))), whole image \(wholeRight)/\(wholeItems.count) (\(percent(wholeRight, wholeItems.count)))")
        }
    }

    func right(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    func percent(_ part: Int, _ whole: Int) -> String {
        whole == 0 ? "-" : String(format: "%.0f %%", Double(part) * 100 / Double(whole))
    }

    /// Every image whole and in 2 and 3 bands, read by our OCR (or taken from the cache): keys `PATH` and
    /// `PATH#BAND/COUNT`; an image is cut only when one of its bands is to be read.
    func readAll(_ items: [OCRCorpus.Item]) async throws -> [String: String] {
        let counts = [2, 3]
        let keys = items.flatMap { item in [item.path] + counts.flatMap { count in (0..<count).map { "\(item.path)#\($0)/\(count)" } } }
        return try await ExtractionBenchmark.readTexts(keys, workers: workers, cache: ocrCache) { missing in
            let wanted = Set(missing)
            return items.flatMap { item -> [(key: String, input: OCRInput)] in
                var inputs: [(key: String, input: OCRInput)] = wanted.contains(item.path) ? [(item.path, .file(item.path))] : []
                for count in counts where (0..<count).contains(where: { wanted.contains("\(item.path)#\($0)/\(count)") }) {
                    for (index, band) in PagePhotos.bands(of: item.path, count: count).enumerated() {
                        inputs.append(("\(item.path)#\(index)/\(count)", .data(band)))
                    }
                }
                return inputs
            }
        }
    }
}
