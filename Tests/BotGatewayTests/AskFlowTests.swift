@testable import BotGateway
import Foundation
import Plugins
import Storage
import Testing
import TestSupport
import UseCases

/// `/ask` in the chat: answered from the asker's own documents, with codes, lines and totals; never from
/// another user's.
@Suite("Ask end to end", .serialized)
struct AskFlowTests {
    @Test("/ask answers from my receipts with the total and the lines; another user asking the same gets nothing of mine")
    func twoUsers() async throws {
        let gateway = try await GatewayHarness.start(admins: [1])
        do {
            try await gateway.database.allow(userID: 2, role: .user, addedBy: 1)
            let receipt = try await SearchablePDFFlowTests.sendAndWait(gateway, user: 1, update: 10, fixture: "receipt.jpg", mime: "image/jpeg")
            let invoice = try await SearchablePDFFlowTests.sendAndWait(gateway, user: 1, update: 11, fixture: "invoice.png", mime: "image/png")
            _ = try await SearchablePDFFlowTests.sendAndWait(gateway, user: 2, update: 12, fixture: "letter.png", mime: "image/png")

            try await gateway.post(Updates.text(update: 20, user: 1, message: 20, "/ask how much did I spend at Corner Cafe?"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 1 && $0.replyTo == 20 } })
            let answer = try #require(gateway.telegram.messages(to: 1).last { $0.replyTo == 20 })
            #expect(answer.text.contains("<code>\(receipt)</code>"), "\(answer.text)")
            #expect(answer.text.contains("GBP 8.25 in all"), "\(answer.text)")
            #expect(answer.text.contains("«CORNER CAFE»"), "\(answer.text)")
            #expect(answer.text.contains("8.25»"), "the total's line is quoted when the question asks for money")
            #expect(!answer.text.contains(invoice))
            #expect(TelegramText.refusal(answer.text, html: true, isCaption: false) == nil)

            try await gateway.post(Updates.text(update: 21, user: 1, message: 21, "/ask invoices from ACME"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 1 && $0.replyTo == 21 } })
            let acme = try #require(gateway.telegram.messages(to: 1).last { $0.replyTo == 21 })
            #expect(acme.text.contains("<code>\(invoice)</code>") && acme.text.contains("USD 363.26"), "\(acme.text)")

            // User 2 asks about user 1's documents: nothing, not even a hint of them.
            for (update, question) in [(30, "corner cafe"), (31, "ACME invoice"), (32, "receipts")] {
                try await gateway.post(Updates.text(update: Int64(update), user: 2, message: Int64(update), "/ask \(question)"))
                #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 2 && $0.replyTo == Int64(update) } })
                let reply = try #require(gateway.telegram.messages(to: 2).last { $0.replyTo == Int64(update) })
                #expect(reply.text.hasPrefix("Nothing in your documents matches that"), "\(question): \(reply.text)")
                #expect(!reply.text.contains(receipt) && !reply.text.contains(invoice))
            }

            try await gateway.post(Updates.text(update: 40, user: 2, message: 40, "/ask"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 2 && $0.text.hasPrefix("Usage: /ask QUESTION") } })
            try await gateway.post(Updates.text(update: 41, user: 2, message: 41, "/help"))
            #expect(await gateway.telegram.waitFor { $0.contains { $0.chatID == 2 && $0.text.contains("/ask QUESTION") } })
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("a model's answer is escaped and followed by the documents it cited; a failed model leaves the passages and why")
    func replies() {
        let match = AskMatch(jobCode: "AB12CD", name: "<b>receipt</b>.jpg", documentType: "receipt", date: "2024-02-03", issuer: "Smith & Sons",
                             total: Analysis.Amount(value: Decimal(string: "8.25")!, currency: "GBP", label: "TOTAL"),
                             lines: ["TOTAL <GBP> 8.25"], excerpt: [], score: 1)
        let question = QuestionParser().parse("what did I pay at Smith & Sons?")
        let findings = AskFindings(question: question, matches: [match], totals: [AskFindings.Total(currency: "GBP", value: Decimal(string: "8.25")!, documents: 1)],
                                   unmatchedTerms: [])
        let model = Replies.ask(.answered(AskAnswer(findings: findings, text: "You paid 8.25 <GBP> [AB12CD] \"TOTAL\"", model: "m", cited: [match])))
        #expect(model.contains("You paid 8.25 &lt;GBP&gt; [AB12CD]"))
        #expect(model.contains("<i>Answered by m from these documents of yours, as cited:</i>"))
        #expect(model.contains("(<code>AB12CD</code>) 2024-02-03, Smith &amp; Sons, GBP 8.25"))
        #expect(TelegramText.refusal(model, html: true, isCaption: false) == nil)

        let failed = Replies.ask(.answered(AskAnswer(findings: findings, modelFailure: "the analysis service rejected the API key")))
        #expect(failed.hasPrefix("<b>1 document</b> matching “smith sons”: GBP 8.25 in all."), "\(failed)")
        #expect(failed.contains("«TOTAL &lt;GBP&gt; 8.25»"))
        #expect(failed.contains("The model could not answer (the analysis service rejected the API key)"))
        #expect(TelegramText.refusal(failed, html: true, isCaption: false) == nil)

        #expect(Replies.ask(.overDailyLimit(30)).contains("30 questions today"))
    }
}
