import Foundation
import OCR

/// The real-document corpora in `../shared/corpora` (each folder a `manifest.json` of `{"file", "truth", "kind"}`
/// and `NAME.truth.txt`), and the scores the benchmark and the corpus tests use: word recall as the scribeocr
/// benchmark publishes it, and character error rate.
public enum OCRCorpus {
    public struct Item: Sendable {
        public var set: String
        public var name: String
        public var kind: String
        public var path: String
        public var truth: String

        /// SROIE's receipts are transcribed in upper case, FUNSD's and WildReceipt's case is unreliable; the
        /// scribe benchmark's metric is case-sensitive.
        public var foldCase: Bool { ["receipt-scan", "form-scan", "photo"].contains(kind) }
        /// The scribe benchmark's own punctuation rule for its images; punctuation trimmed at word ends for the
        /// others, as the corpora's README says.
        public var punctuation: TextAccuracy.Punctuation { foldCase ? .trimmedAtEnds : .ignoredAwayFromDigits }
        /// WildReceipt removes the spaces inside each text segment.
        public var ignoreSpaces: Bool { kind == "photo" }
    }

    public struct Score: Sendable {
        public var recall: Double
        public var cer: Double
    }

    private struct Entry: Decodable {
        var file: String
        var truth: String
        var kind: String
    }

    /// `BOTGATEWAY_CORPORA` if set, else `../shared/corpora` beside the repository, when it is there (CI has it; a
    /// fresh clone elsewhere may not, and the corpus tests then skip).
    public static var root: URL? {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let corpora = ProcessInfo.processInfo.environment["BOTGATEWAY_CORPORA"].map { URL(fileURLWithPath: $0) }
            ?? repository.deletingLastPathComponent().appendingPathComponent("shared/corpora")
        return FileManager.default.fileExists(atPath: corpora.appendingPathComponent("manifest.json").path)
            || FileManager.default.fileExists(atPath: corpora.appendingPathComponent("receipts/manifest.json").path) ? corpora : nil
    }

    public static func load(_ folders: [String]) throws -> [Item] {
        var items: [Item] = []
        for folder in folders {
            let root = URL(fileURLWithPath: folder)
            let manifest = root.appendingPathComponent("manifest.json")
            guard let data = FileManager.default.contents(atPath: manifest.path) else {
                throw CorpusError(description: "no manifest.json in \(folder)")
            }
            for entry in try JSONDecoder().decode([Entry].self, from: data) {
                let truth = try String(contentsOf: root.appendingPathComponent(entry.truth), encoding: .utf8)
                items.append(Item(set: root.lastPathComponent, name: entry.file, kind: entry.kind,
                                  path: root.appendingPathComponent(entry.file).path, truth: truth))
            }
        }
        return items
    }

    public static func score(_ text: String, _ item: Item) -> Score {
        Score(recall: TextAccuracy.wordRecall(recognized: text, reference: item.truth, foldCase: item.foldCase,
                                              punctuation: item.punctuation),
              cer: item.ignoreSpaces ? TextAccuracy.characterErrorRateIgnoringSpaces(recognized: text, reference: item.truth)
                  : TextAccuracy.characterErrorRate(recognized: text, reference: item.truth))
    }

    public struct CorpusError: Error, CustomStringConvertible {
        public var description: String
    }
}

extension OCRCorpus {
    /// `botgateway batch` as a bulk uploader runs it, on a scratch copy of the items (batch follows no links)
    /// with a fresh data folder; `body` gets the outcome and the path of that run's database before both are
    /// removed. `environment` is the child's whole environment; `BOT_DATA_DIR` is set here.
    public static func withBatch<T>(_ items: [Item], environment: [String: String],
                                    _ body: (ChildProcess.Outcome, _ databasePath: String) async throws -> T) async throws -> T {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-batch-\(UUID().uuidString)")
        let folder = scratch.appendingPathComponent("documents"), data = scratch.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        for item in items { try FileManager.default.copyItem(atPath: item.path, toPath: folder.appendingPathComponent(item.name).path) }
        var environment = environment
        environment["BOT_DATA_DIR"] = data.path
        let outcome = try await ChildProcess.runOffPool([ChildProcess.botgateway, "batch", folder.path, "--json"], environment: environment)
        return try await body(outcome, data.appendingPathComponent("botgateway.sqlite").path)
    }
}
