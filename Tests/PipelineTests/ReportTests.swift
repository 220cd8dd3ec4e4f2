import Foundation
import Plugins
import Storage
import Testing

@Suite("Consolidated report")
struct ReportTests {
    @Test("overview counts types, dates, totals by currency and failures; a section per document")
    func report() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let group = try await store.database.group(kind: .batch, key: "batch:/r", title: "Quarter | review")
        let analyzer = LocalAnalyzer()
        for (seed, fixture) in ["invoice.png", "receipt.jpg", "utility-bill.pdf"].enumerated() {
            let job = try await store.enqueue(try distinctDocument(200 + seed), name: fixture, steps: ["analyze"], groupID: group.id)
            let claimed = try #require(try await store.database.claimNextJob(owner: "w", leaseSeconds: 10, groupID: group.id))
            #expect(claimed.job.id == job.id)
            let analysis = analyzer.analyze(text: try Paths.truth(fixture))
            _ = try await store.database.finishStep(claimed, output: try analysis.json(), milliseconds: 1)
        }
        let broken = try await store.enqueue(try distinctDocument(299), name: "scan*[1].png", steps: ["analyze"], groupID: group.id)
        let claimed = try #require(try await store.database.claimNextJob(owner: "w", leaseSeconds: 10, groupID: group.id))
        #expect(claimed.job.id == broken.id)
        _ = try await store.database.failStep(claimed, error: "the PNG file is damaged or incomplete", retryAt: nil, maxAttempts: 3)

        let markdown = ReportBuilder().markdown(title: group.title, jobs: try await store.database.jobDetails(groupID: group.id!),
                                                skipped: [.init(name: "notes.txt", reason: "not a supported document (plain text)")])
        #expect(markdown.hasPrefix("# Quarter \\| review\n"))
        #expect(markdown.contains("- Documents: 4 (3 analysed, 1 failed; 1 file skipped)"))
        #expect(markdown.contains("- Date range: 2024-01-01 to 2024-04-13"))
        #expect(markdown.contains("| invoice | 1 |"))
        #expect(markdown.contains("| EUR | 74.30 | 1 |"))
        #expect(markdown.contains("| GBP | 8.25 | 1 |"))
        #expect(markdown.contains("| USD | 363.26 | 1 |"))
        #expect(markdown.contains("- scan\\*\\[1\\].png (job \(broken.code)): the PNG file is damaged or incomplete"))
        #expect(markdown.contains("- notes.txt: skipped, not a supported document (plain text)"))
        #expect(markdown.contains("### 1. Invoice INV-2024-0153 from ACME Office Supplies Ltd."))
        #expect(markdown.contains("### 4. scan\\*\\[1\\].png"))
    }

    @Test("a total whose currency nobody could tell is still added up, in its own row; each section names issuer, date and total")
    func unknownCurrency() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let group = try await store.database.group(kind: .batch, key: "batch:/u", title: "Shoebox")
        let texts = ["CORNER SHOP\n03.02.2024 12:41\nCoffee 3.50\nCake 7.40\nTOTAL 10.90", "CORNER SHOP\n04.02.2024 09:10\nTea 2.10\nTOTAL 2.10"]
        for (seed, text) in texts.enumerated() {
            _ = try await store.enqueue(try distinctDocument(400 + seed), name: "shop-\(seed).jpg", steps: ["analyze"], groupID: group.id)
            let claimed = try #require(try await store.database.claimNextJob(owner: "w", leaseSeconds: 10, groupID: group.id))
            _ = try await store.database.finishStep(claimed, output: try LocalAnalyzer().analyze(text: text).json(), milliseconds: 1)
        }
        let markdown = ReportBuilder().markdown(title: group.title, jobs: try await store.database.jobDetails(groupID: group.id!), skipped: [])
        #expect(markdown.contains("| unknown | 13.00 | 2 |"))
        #expect(markdown.contains("**Date:** 2024-02-03; **Total:** 10.90"))
    }
}
