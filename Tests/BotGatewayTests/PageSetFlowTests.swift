import BotGateway
import Crypto
import Foundation
import OCR
import Plugins
import Storage
import Testing
import TestSupport
import UseCases

/// Several photos, one document: an album of a document's pages becomes one job with every page and one total,
/// the same photos sent after `/merge` give the same, distinct documents and mixed albums stay apart, and
/// `/albums` changes how a chat's albums are taken.
@Suite("Albums and /merge end to end", .serialized)
struct PageSetFlowTests {
    /// The invoice fixture photographed in three parts, top to bottom.
    static func invoicePages() throws -> [Data] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/invoice.png").path
        let pages = PagePhotos.bands(of: path, count: 3)
        try #require(pages.count == 3)
        return pages
    }

    static func code(in text: String) throws -> String {
        let start = try #require(text.range(of: "<code>")).upperBound
        return String(text[start...].prefix { $0 != "<" })
    }

    /// The one merged job's details once its result was sent.
    static func mergedJob(_ gateway: GatewayHarness, user: Int64) async throws -> JobDetails {
        #expect(await gateway.telegram.waitFor(timeout: .seconds(60)) { $0.contains { $0.chatID == user && $0.text.contains("pages, one document") } })
        let announcement = try #require(gateway.telegram.messages(to: user).first { $0.text.contains("pages, one document") },
                                        "\(gateway.telegram.messages(to: user).map(\.text))")
        let code = try code(in: announcement.text)
        #expect(await gateway.telegram.waitFor(timeout: .seconds(60)) { $0.contains { $0.chatID == user && $0.text.contains(code) && $0.text.contains("363.26") } })
        return try #require(try await gateway.database.jobDetails(code: code))
    }

    @Test("an album of three page photos becomes one job with three pages and one total; the same photos after /merge give the same")
    func albumAndMerge() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        do {
            try await gateway.database.allow(userID: 2, role: .user, addedBy: 1)
            let pages = try Self.invoicePages()
            for (index, page) in pages.enumerated() { gateway.telegram.addFile(id: "page-\(index)", data: page) }

            for index in pages.indices {
                try await gateway.post(Updates.photo(update: Int64(10 + index), user: 1, message: Int64(100 + index), file: "page-\(index)", album: "INV"))
            }
            let album = try await Self.mergedJob(gateway, user: 1)
            #expect(album.document.format == "pdf" && album.document.pages == 3)
            #expect(album.ocr?.pages.count == 3)
            #expect(album.analysis?.primaryAmount?.value == Decimal(string: "363.26"))
            #expect(album.job.messageID == 100, "the result answers the album's first photo")
            let jobs = try await gateway.database.jobs(limit: 20)
            #expect(jobs.count == 1, "one job for the album")
            #expect(gateway.telegram.messages(to: 1).filter { $0.text.contains("Got your album") }.count == 1)
            #expect(!gateway.telegram.messages(to: 1).contains { $0.text.contains("Album of") }, "no album report for one document")
            // The pages live on inside the PDF only: their own files are gone.
            for page in pages {
                let sha = SHA256.hash(data: page).map { String(format: "%02x", $0) }.joined()
                #expect(!FileManager.default.fileExists(atPath: gateway.blobs.absolutePath(BlobStore.relativePath(sha256: sha))))
            }
            // The PDF opens, has three pages, and holds the photos' text.
            let pdf = gateway.blobs.absolutePath(album.document.blobPath)
            #expect(try PDFCheck.pageCount(pdf) == 3)
            #expect(try PDFCheck.qpdfCheck(pdf).exitCode == 0)

            // Another user: /merge, the same photos one by one, /done.
            try await gateway.post(Updates.text(update: 30, user: 2, message: 300, "/merge"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 2 && $0.text.contains("then /done") } })
            for index in pages.indices {
                try await gateway.post(Updates.photo(update: Int64(31 + index), user: 2, message: Int64(301 + index), file: "page-\(index)"))
                #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 2 && $0.text.contains("Page \(index + 1) added") } })
            }
            try await gateway.post(Updates.text(update: 40, user: 2, message: 310, "/done"))
            let merged = try await Self.mergedJob(gateway, user: 2)
            #expect(merged.document.sha256 == album.document.sha256, "the same pages make the same document")
            #expect(merged.job.code != album.job.code && merged.job.userID == 2)
            #expect(merged.analysis?.primaryAmount?.value == Decimal(string: "363.26"))
            #expect(merged.job.messageID == 301)

            // /done with nothing open.
            try await gateway.post(Updates.text(update: 41, user: 2, message: 311, "/done"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 2 && $0.text.contains("Nothing to put together") } })
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("a damaged photo among the pages: the album keeps it apart with its reason and reads the others; /merge reads what it can of it; /help names the commands")
    func damagedPage() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        do {
            let pages = try Self.invoicePages()
            gateway.telegram.addFile(id: "good", data: pages[0])
            gateway.telegram.addFile(id: "bad", data: try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures/bad/truncated.jpg")))
            try await gateway.post(Updates.photo(update: 1, user: 1, message: 1, file: "good", album: "B"))
            try await gateway.post(Updates.photo(update: 2, user: 1, message: 2, file: "bad", album: "B"))
            #expect(await gateway.telegram.waitFor(timeout: .seconds(60)) { $0.contains { $0.text.contains("Album of 2 documents") } })
            let report = try #require(gateway.telegram.messages(to: 1).first { $0.text.contains("Album of 2 documents") })
            #expect(report.text.contains("ACME Office Supplies"), "the good page is read")
            #expect(report.text.contains("failed") || report.text.contains("could not"), "\(report.text)")

            try await gateway.post(Updates.text(update: 3, user: 1, message: 3, "/merge"))
            try await gateway.post(Updates.photo(update: 4, user: 1, message: 4, file: "good"))
            try await gateway.post(Updates.photo(update: 5, user: 1, message: 5, file: "bad"))
            try await gateway.post(Updates.text(update: 6, user: 1, message: 6, "/done"))
            // /merge asked for one document: it is made, and what can be read of it is (poppler renders the
            // truncated photo as far as it goes), the good page in full.
            #expect(await gateway.telegram.waitFor(timeout: .seconds(60)) { sent in
                sent.contains { $0.replyTo == 4 && $0.text.contains("ACME Office Supplies") && $0.text.contains("Job <code>") }
            })
            #expect(gateway.telegram.messages(to: 1).contains { $0.replyTo == 4 && $0.text.contains("2 pages, one document") })
            #expect(try await gateway.database.claimReadyPageSets(albumQuiet: 0, mergeQuiet: 0, leaseSeconds: 1, limit: 10, now: .now + 1).isEmpty)

            try await gateway.post(Updates.text(update: 7, user: 1, message: 7, "/help"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("/merge") && $0.text.contains("/albums merge") } })
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("distinct documents in an album, and an album with a PDF, stay apart with one report; /albums merge and separate decide")
    func apart() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        do {
            for name in ["receipt.jpg", "invoice.png", "utility-bill.pdf"] {
                gateway.telegram.addFile(id: name, data: try GatewayHarness.fixture(name))
            }
            // Two receipts-and-invoices, each with its own total: read, and kept apart.
            try await gateway.post(Updates.photo(update: 1, user: 1, message: 1, file: "receipt.jpg", album: "D"))
            try await gateway.post(Updates.photo(update: 2, user: 1, message: 2, file: "invoice.png", album: "D"))
            #expect(await gateway.telegram.waitFor(timeout: .seconds(60)) { $0.contains { $0.text.contains("Album of 2 documents") } })
            #expect(try await gateway.database.jobs(limit: 20).count == 2)

            // A photo and a PDF: apart without reading (a PDF is no page photo).
            try await gateway.post(Updates.photo(update: 3, user: 1, message: 3, file: "receipt.jpg", album: "M"))
            try await gateway.post(Updates.photo(update: 5, user: 1, message: 5, file: "utility-bill.pdf", album: "M"))
            #expect(await gateway.telegram.waitFor(timeout: .seconds(60)) { $0.filter { $0.text.contains("Album of 2 documents") }.count == 2 })

            // /albums merge: the same two photos become one document without asking the text.
            try await gateway.post(Updates.text(update: 6, user: 1, message: 6, "/albums"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.text.hasPrefix("Here albums whose photos") } })
            try await gateway.post(Updates.text(update: 7, user: 1, message: 7, "/albums merge"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("every album of photos becomes one document") } })
            #expect(try await gateway.database.chatSettings(chatID: 1).albums == .merge)
            try await gateway.post(Updates.photo(update: 8, user: 1, message: 8, file: "receipt.jpg", album: "X"))
            try await gateway.post(Updates.photo(update: 9, user: 1, message: 9, file: "invoice.png", album: "X"))
            #expect(await gateway.telegram.waitFor(timeout: .seconds(60)) { $0.contains { $0.text.contains("2 pages, one document") } })

            // /albums separate: straight to a job per photo, as before albums were read.
            try await gateway.post(Updates.text(update: 10, user: 1, message: 10, "/albums separate"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("a document of its own") } })
            try await gateway.post(Updates.photo(update: 11, user: 1, message: 11, file: "receipt.jpg", album: "S"))
            try await gateway.post(Updates.photo(update: 12, user: 1, message: 12, file: "invoice.png", album: "S"))
            #expect(await gateway.telegram.waitFor(timeout: .seconds(60)) { $0.filter { $0.text.contains("Album of 2 documents") }.count == 3 })
            #expect(try await gateway.database.claimReadyPageSets(albumQuiet: 0, mergeQuiet: 0, leaseSeconds: 1, limit: 10, now: .now + 1).isEmpty)

            try await gateway.post(Updates.text(update: 13, user: 1, message: 13, "/albums sideways"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("/albums merge, /albums separate or /albums auto") } })
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }
}
