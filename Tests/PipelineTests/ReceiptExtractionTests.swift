import Foundation
import Plugins
import Storage
import TestSupport
import Testing

let receiptCorpusPresent = OCRCorpus.root.map { FileManager.default.fileExists(atPath: $0.appendingPathComponent("receipts/manifest.json").path) } ?? false

/// The local analyser on real receipts (`../shared/corpora/receipts`) through the real path: `botgateway batch`
/// with `ANALYZER=local` on a copy of the folder (`OCRCorpus.withBatch`, as the benchmark runs it), the analyses
/// read back from its database, scored as `botgateway-bench extract` scores them. The floors sit a little under what it reaches (README: total 86 %,
/// date 90 %, merchant 94 %), so a change that gets real receipts' facts wrong more often fails here. Skipped
/// when the corpora are not beside the repository.
@Suite("Facts from real receipts", .enabled(if: receiptCorpusPresent, "../shared/corpora/receipts is not here"))
struct ReceiptExtractionTests {
    @Test("batch with the local analyser gets the total, the date and the merchant of real receipts")
    func floors() async throws {
        let root = try #require(OCRCorpus.root)
        let items = try OCRCorpus.load([root.appendingPathComponent("receipts").path])
        try #require(items.count >= 40)
        let environment = ChildProcess.environment(["OCR_WORKERS": "2", "LOG_LEVEL": "warning", "ANALYZER": "local"])
        let (total, date, merchant) = try await OCRCorpus.withBatch(items, environment: environment) { run, databasePath in
            #expect(run.exitCode == 0, "\(run.standardError)")
            let jobs = try await AppDatabase(path: databasePath).jobDetails(since: nil)
            var total = 0, date = 0, merchant = 0
            for item in items {
                let key = try ReceiptKey.load(for: item)
                let job = try #require(jobs.first { $0.job.sourceName == item.name })
                let analysis = try #require(job.output(of: AnalyzePlugin.stepName).map { try Analysis.decode($0) })
                if key.totalMatches(analysis.primaryAmount?.value) { total += 1 }
                if key.dateMatches(analysis.primaryDate) { date += 1 }
                if key.companyMatches(analysis.primaryIssuer) { merchant += 1 }
            }
            return (total, date, merchant)
        }
        let count = Double(items.count)
        #expect(Double(total) / count >= 0.86, "total right on \(total) of \(items.count)")
        #expect(Double(date) / count >= 0.86, "date right on \(date) of \(items.count)")
        #expect(Double(merchant) / count >= 0.92, "merchant right on \(merchant) of \(items.count)")
    }
}
