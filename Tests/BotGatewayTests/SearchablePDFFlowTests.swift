import BotGateway
import Foundation
import OCR
import Storage
import Testing
import TestSupport
import UseCases

/// The searchable PDF through every door: `/pdf CODE` in the chat, the API, the dashboard; only its owner gets
/// it; `/forget` deletes it with the document; a document read before PDFs were kept gets one made on request.
@Suite("Searchable PDF end to end", .serialized)
struct SearchablePDFFlowTests {
    static func code(in text: String) throws -> String {
        let start = try #require(text.range(of: "<code>")).upperBound
        return String(text[start...].prefix { $0 != "<" })
    }

    /// Sends a file as a document and waits for its result; returns the job code.
    static func sendAndWait(_ gateway: GatewayHarness, user: Int64, update: Int64, fixture: String, mime: String) async throws -> String {
        let before = gateway.telegram.messages(to: user).count
        gateway.telegram.addFile(id: "f\(update)", data: try GatewayHarness.fixture(fixture))
        try await gateway.post(Updates.document(update: update, user: user, message: update, file: "f\(update)", name: fixture, mime: mime, size: 60_000))
        #expect(await gateway.telegram.waitFor { $0.filter { $0.chatID == user }.count >= before + 2 })
        return try code(in: gateway.telegram.messages(to: user)[before].text)
    }

    @Test("/pdf CODE sends the owner a PDF with the document's text; another user gets nothing; /forget deletes it")
    func bot() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        do {
            try await gateway.database.allow(userID: 2, role: .user, addedBy: 1)
            let code = try await Self.sendAndWait(gateway, user: 1, update: 10, fixture: "letter.png", mime: "image/png")
            let details = try #require(try await gateway.database.jobDetails(code: code))
            let result = try #require(details.ocr)
            let pdfSHA = try #require(result.searchablePDFSHA256, "the OCR step kept no PDF")
            let blob = gateway.blobs.absolutePath(BlobStore.relativePath(sha256: pdfSHA))
            #expect(FileManager.default.fileExists(atPath: blob))

            try await gateway.post(Updates.text(update: 11, user: 1, message: 11, "/pdf \(code.lowercased())"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.method == "sendDocument" && $0.chatID == 1 } })
            let sent = try #require(gateway.telegram.messages(to: 1).last { $0.method == "sendDocument" })
            #expect(sent.fileName == "letter-searchable.pdf")
            #expect(sent.replyTo == 11)
            let file = try #require(sent.file)
            #expect(file.starts(with: Data("%PDF-".utf8)))
            #expect(file == (try Data(contentsOf: URL(fileURLWithPath: blob))))
            if PDFCheck.missingTools.isEmpty {
                let path = gateway.directory.appendingPathComponent("sent.pdf").path
                try file.write(to: URL(fileURLWithPath: path))
                #expect(PDFCheck.sameText(try PDFCheck.text(path), result.text))
            }

            // Another user (allowed, not an admin) cannot have it.
            try await gateway.post(Updates.text(update: 12, user: 2, message: 12, "/pdf \(code)"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 2 } })
            #expect(gateway.telegram.messages(to: 2).allSatisfy { $0.method == "sendMessage" && $0.text.contains("No job") })

            // A PDF with its own text is searchable already.
            let textCode = try await Self.sendAndWait(gateway, user: 1, update: 13, fixture: "utility-bill.pdf", mime: "application/pdf")
            try await gateway.post(Updates.text(update: 14, user: 1, message: 14, "/pdf \(textCode)"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("searchable as it is") } })

            // /help says it is there.
            try await gateway.post(Updates.text(update: 16, user: 2, message: 16, "/help"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 2 && $0.text.contains("/pdf CODE") } })
            #expect(gateway.telegram.messages(to: 2).contains { $0.text.contains("/pdf on, /pdf off") })

            // Forgotten: the PDF goes with the document.
            try await gateway.post(Updates.text(update: 15, user: 1, message: 15, "/forget \(code)"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.text.lowercased().contains("forgot") || $0.text.contains("deleted") } })
            #expect(!FileManager.default.fileExists(atPath: blob))
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("/pdf on: every result in the chat comes with its PDF, after the result; /pdf off stops it; other chats unchanged")
    func attachedToResults() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        do {
            try await gateway.database.allow(userID: 2, role: .user, addedBy: 1)
            try await gateway.post(Updates.text(update: 9, user: 1, message: 9, "/pdf on"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 1 && $0.text.contains("every result here comes with its searchable PDF") } })
            #expect(try await gateway.database.chatSettings(chatID: 1).attachSearchablePDF)

            let code = try await Self.sendAndWait(gateway, user: 1, update: 10, fixture: "letter.png", mime: "image/png")
            #expect(await gateway.telegram.waitFor { $0.contains { $0.method == "sendDocument" && $0.chatID == 1 } })
            let sent = gateway.telegram.messages(to: 1)
            let result = try #require(sent.firstIndex { $0.method == "sendMessage" && $0.replyTo == 10 && !$0.text.hasPrefix("Got it") })
            let pdf = try #require(sent.firstIndex { $0.method == "sendDocument" })
            #expect(result < pdf, "the PDF follows the result")
            #expect(sent[pdf].fileName == "letter-searchable.pdf" && sent[pdf].replyTo == 10)
            #expect(sent[pdf].text.contains(code))
            #expect(sent[pdf].file?.starts(with: Data("%PDF-".utf8)) == true)

            // Another chat did not ask: its result comes alone.
            _ = try await Self.sendAndWait(gateway, user: 2, update: 20, fixture: "letter.png", mime: "image/png")
            // A PDF with its own text gets none.
            _ = try await Self.sendAndWait(gateway, user: 1, update: 11, fixture: "utility-bill.pdf", mime: "application/pdf")

            // An album: its one reply, then each page's PDF.
            for (index, name) in ["receipt.jpg", "invoice.png"].enumerated() {
                gateway.telegram.addFile(id: "album-\(name)", data: try GatewayHarness.fixture(name))
                try await gateway.post(Updates.photo(update: Int64(30 + index), user: 1, message: Int64(30 + index), file: "album-\(name)", album: "A1"))
            }
            #expect(await gateway.telegram.waitFor { $0.filter { $0.method == "sendDocument" && $0.chatID == 1 }.count >= 3 })
            let afterAlbum = gateway.telegram.messages(to: 1)
            let albumReply = try #require(afterAlbum.firstIndex { $0.text.contains("Album of 2 documents") })
            let albumPDFs = afterAlbum.indices.filter { afterAlbum[$0].method == "sendDocument" }.dropFirst()
            #expect(albumPDFs.allSatisfy { $0 > albumReply })
            #expect(albumPDFs.count == 2 && albumPDFs.allSatisfy { afterAlbum[$0].fileName?.hasSuffix("-searchable.pdf") == true })

            try await gateway.post(Updates.text(update: 12, user: 1, message: 12, "/PDF OFF"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 1 && $0.text.contains("without PDFs again") } })
            _ = try await Self.sendAndWait(gateway, user: 1, update: 13, fixture: "receipt.jpg", mime: "image/jpeg")
            try await Task.sleep(for: .milliseconds(800))
            #expect(gateway.telegram.messages(to: 1).filter { $0.method == "sendDocument" }.count == 3, "none after /pdf off")
            #expect(gateway.telegram.messages(to: 2).allSatisfy { $0.method == "sendMessage" })
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("the API hands a token its own document's PDF (a text PDF as it is) and 404 to another token; the dashboard offers it")
    func apiAndDashboard() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        do {
            let mine = try await APIFlowTests.token(gateway, "mine"), theirs = try await APIFlowTests.token(gateway, "theirs")
            let upload = try await APIFlowTests.upload(gateway, try GatewayHarness.fixture("invoice.png"), name: "invoice.png", token: mine)
            let code = try #require((upload.json["job"] as? [String: Any])?["code"] as? String)
            let job = try await APIFlowTests.finished(gateway, code, token: mine)
            let links = try #require(job["links"] as? [String: Any])
            let link = try #require(links["searchable_pdf"] as? String)
            let pdf = try await APIFlowTests.call(gateway, link, token: mine)
            #expect(pdf.status == 200)
            #expect(pdf.header("Content-Type") == "application/pdf")
            #expect(pdf.header("Content-Disposition")?.contains("invoice-searchable.pdf") == true)
            #expect(pdf.body.starts(with: Data("%PDF-".utf8)))
            let refused = try await APIFlowTests.call(gateway, link, token: theirs)
            #expect(refused.status == 404 && refused.problem == "not-found")

            let textUpload = try await APIFlowTests.upload(gateway, try GatewayHarness.fixture("utility-bill.pdf"), name: "bill.pdf", token: mine)
            let textCode = try #require((textUpload.json["job"] as? [String: Any])?["code"] as? String)
            _ = try await APIFlowTests.finished(gateway, textCode, token: mine)
            let details = try #require(try await gateway.database.jobDetails(code: textCode))
            let original = try await APIFlowTests.call(gateway, "/api/v1/documents/\(details.document.sha256)/searchable.pdf", token: mine)
            #expect(original.status == 200)
            #expect(original.body == (try GatewayHarness.fixture("utility-bill.pdf")))

            let session = try await DashboardFlowTests.signIn(gateway)
            let sha = link.components(separatedBy: "/")[4]
            let page = try await DashboardFlowTests.call(gateway, "/admin/documents/\(sha)", cookie: session)
            #expect(page.text.contains("/admin/documents/\(sha)/searchable.pdf"))
            let download = try await DashboardFlowTests.call(gateway, "/admin/documents/\(sha)/searchable.pdf", cookie: session)
            #expect(download.status == 200 && download.text.hasPrefix("%PDF-"))
            #expect(download.header("Content-Type") == "application/pdf")
            #expect(try await DashboardFlowTests.call(gateway, "/admin/documents/\(sha)/searchable.pdf").status == 401)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("a document read before PDFs were kept gets one made when asked for")
    func madeOnRequest() async throws {
        let gateway = try await GatewayHarness.start(admins: [1], searchablePDF: false)
        do {
            let code = try await Self.sendAndWait(gateway, user: 1, update: 20, fixture: "receipt.jpg", mime: "image/jpeg")
            #expect(try await gateway.database.jobDetails(code: code)?.ocr?.searchablePDFSHA256 == nil)
            try await gateway.post(Updates.text(update: 21, user: 1, message: 21, "/pdf \(code)"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.method == "sendDocument" } })
            let file = try #require(gateway.telegram.messages(to: 1).last { $0.method == "sendDocument" }?.file)
            #expect(file.starts(with: Data("%PDF-".utf8)))
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }
}
