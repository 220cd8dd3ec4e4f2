import Foundation
@testable import Plugins
import Testing

@Suite("Local analyser")
struct LocalAnalyzerTests {
    struct Expectation: Sendable, CustomTestStringConvertible {
        var fixture: String
        var type: String
        var dates: [String]
        var total: (Decimal, String)?
        var party: String?

        var testDescription: String { fixture }
    }

    static let expectations: [Expectation] = [
        Expectation(fixture: "invoice.png", type: "invoice", dates: ["2024-03-14", "2024-04-13"], total: (Decimal(string: "363.26")!, "USD"), party: "ACME Office Supplies Ltd."),
        Expectation(fixture: "receipt.jpg", type: "receipt", dates: ["2024-02-03"], total: (Decimal(string: "8.25")!, "GBP"), party: "CORNER CAFE"),
        Expectation(fixture: "letter.png", type: "letter", dates: ["2024-01-05", "2023-12-18", "2024-01-31"], total: nil, party: "Jane Doe"),
        Expectation(fixture: "contract-2pages.tif", type: "contract", dates: ["2024-06-01", "2024-07-01", "2025-06-30"], total: nil, party: "Greenfield Properties LLC"),
        Expectation(fixture: "statement-scanned.pdf", type: "bank_statement", dates: ["2024-04-01", "2024-04-30", "2024-04-03"], total: (Decimal(string: "3591.23")!, "EUR"), party: "First Harbor Bank"),
        Expectation(fixture: "utility-bill.pdf", type: "utility_bill", dates: ["2024-01-01", "2024-01-31", "2024-02-28"], total: (Decimal(string: "74.30")!, "EUR"), party: "City Power and Light"),
        Expectation(fixture: "payslip-photo-sideways.jpg", type: "payslip", dates: ["2024-02-29"], total: (Decimal(string: "4039.20")!, "USD"), party: "Bright Future Software Inc."),
        Expectation(fixture: "delivery-photo-tilted.jpg", type: "delivery_note", dates: ["2024-05-17"], total: nil, party: "Swift Logistics GmbH"),
        Expectation(fixture: "certificate-low-contrast.png", type: "insurance", dates: ["2024-03-01", "2025-02-28"], total: nil, party: "Oliver Brown"),
        Expectation(fixture: "notice-small-text.png", type: "notice", dates: ["2024-05-02", "2024-05-23"], total: nil, party: nil),
    ]

    @Test("type, dates, total and parties of each fixture", arguments: expectations)
    func fixture(expectation: Expectation) throws {
        let analysis = LocalAnalyzer().analyze(text: try Paths.truth(expectation.fixture))
        #expect(analysis.documentType == expectation.type)
        #expect(Array(analysis.dates.prefix(expectation.dates.count)) == expectation.dates)
        if let (value, currency) = expectation.total {
            #expect(analysis.primaryAmount?.value == value)
            #expect(analysis.primaryAmount?.currency == currency)
        } else {
            #expect(analysis.primaryAmount == nil)
        }
        if let party = expectation.party { #expect(analysis.parties.contains(party), "\(analysis.parties)") }
        #expect(analysis.language == "en")
        #expect(!analysis.title.isEmpty)
        #expect(!analysis.summary.isEmpty)
        #expect((0...1).contains(analysis.confidence))
    }

    @Test("invoice fields in detail")
    func invoice() throws {
        let analysis = LocalAnalyzer().analyze(text: try Paths.truth("invoice.png"))
        #expect(analysis.title == "Invoice INV-2024-0153 from ACME Office Supplies Ltd.")
        #expect(analysis.keyFacts.contains(.init(label: "Invoice No", value: "INV-2024-0153")))
        #expect(analysis.amounts.contains(.init(value: Decimal(string: "26.91")!, currency: "USD", label: "Sales tax 8%")))
        #expect(analysis.parties.contains("Northwind Traders Inc."))
        #expect(analysis.actionItems.contains("Payment by bank transfer within 30 days."))
        #expect(analysis.summary.hasPrefix("Invoice from ACME Office Supplies Ltd. dated 2024-03-14; total due USD 363.26."))
    }

    @Test("dates written many ways become ISO dates", arguments: [
        ("14 March 2024", "2024-03-14"), ("March 14, 2024", "2024-03-14"), ("Mar 14th 2024", "2024-03-14"),
        ("2024-03-14", "2024-03-14"), ("14.03.2024", "2024-03-14"), ("14/03/2024", "2024-03-14"), ("14.03.24", "2024-03-14"),
        ("1st of June 2024", "2024-06-01"), ("5. Januar 2024", "2024-01-05"), ("3 février 2024", "2024-02-03"), ("2024/12/31", "2024-12-31"),
    ])
    func dates(text: String, iso: String) {
        #expect(DateExtractor(monthFirst: false).extract(from: "Date: \(text).").map(\.iso) == [iso])
    }

    @Test("impossible dates and times are not dates")
    func notDates() {
        #expect(DateExtractor(monthFirst: false).extract(from: "31.02.2024 at 12:41, room 4.12, 99/99/2024").isEmpty)
    }

    @Test("slashed dates follow the document's convention unless the numbers decide")
    func slashed() {
        #expect(DateExtractor(monthFirst: true).extract(from: "03/02/2024").map(\.iso) == ["2024-03-02"])
        #expect(DateExtractor(monthFirst: false).extract(from: "03/02/2024").map(\.iso) == ["2024-02-03"])
        #expect(DateExtractor(monthFirst: true).extract(from: "25/12/2024").map(\.iso) == ["2024-12-25"])
    }

    @Test("amounts in the usual notations", arguments: [
        ("Total: USD 1,234.56", "1234.56", "USD"), ("Summe: 1.234,56 EUR", "1234.56", "EUR"), ("Price £8.25", "8.25", "GBP"),
        ("Refund -€12,50", "12.50", "EUR"), ("Due $99", "99", "USD"), ("Betrag: 1 234,56 €", "1234.56", "EUR"),
    ])
    func amounts(text: String, value: String, currency: String) {
        let found = AmountExtractor().mentions(in: MoneyText.lines(text))
        #expect(found.first?.value.magnitude == Decimal(string: value)!)
        #expect(found.first?.currency == currency)
    }

    @Test("text with no document in it is 'other' with low confidence")
    func other() {
        let analysis = LocalAnalyzer().analyze(text: "lorem ipsum dolor")
        #expect(analysis.documentType == "other")
        #expect(analysis.confidence <= 0.3)
        #expect(analysis.dates.isEmpty && analysis.amounts.isEmpty)
    }

    @Test("the analysis JSON uses SPEC §6's field names")
    func json() throws {
        let data = try LocalAnalyzer().analyze(text: try Paths.truth("receipt.jpg")).json()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let required: Set<String> = ["document_type", "title", "summary", "language", "key_facts", "dates", "amounts", "parties", "action_items", "confidence"]
        let optional: Set<String> = ["document_date", "issuer", "total", "tax", "currency", "line_items", "field_confidence"]
        #expect(required.isSubset(of: Set(object.keys)))
        #expect(Set(object.keys).subtracting(required).isSubset(of: optional))
        #expect(object["document_date"] as? String == "2024-02-03")
        #expect((object["total"] as? [String: Any])?["currency"] as? String == "GBP")
        let item = try #require((object["line_items"] as? [[String: Any]])?.first)
        #expect(Set(item.keys).isSubset(of: ["description", "quantity", "unit_price", "amount"]))
        let amount = try #require((object["amounts"] as? [[String: Any]])?.first)
        #expect(Set(amount.keys) == ["value", "currency", "label"])
    }
}
