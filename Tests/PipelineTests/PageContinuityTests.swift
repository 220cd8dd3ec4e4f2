import Foundation
import Plugins
import Testing

/// The album rule on page texts: evidence that pages continue each other merges, evidence of distinct documents
/// (and no evidence at all) keeps them apart.
@Suite("Pages or documents")
struct PageContinuityTests {
    static let head = "ACME Office Supplies Ltd.\n12 Market Street\nINVOICE\nInvoice Date: 14 March 2024\nPrinter paper 124.95"
    static let middle = "Toner cartridge 179.00\nHeavy duty stapler 32.40"
    static let foot = "Subtotal: 336.35\nSales tax 8%: 26.91\nTotal Due: USD 363.26\nThank you"

    @Test("a document's head, middle and foot are one document; the same in another order is not")
    func parts() {
        #expect(PageContinuity.decide(pages: [Self.head, Self.middle, Self.foot]).merges)
        #expect(PageContinuity.decide(pages: [Self.head, Self.foot]).merges)
        #expect(PageContinuity.decide(pages: [Self.foot, Self.head]).merges == false, "a dated page after the total")
    }

    @Test("two receipts, each with a total, or each beginning with a company's name, stay apart")
    func distinct() {
        let cafe = "CORNER CAFE\n12/03/2024\nLatte 3.50\nTOTAL 3.50"
        let shop = "MR DIY\n14/03/2024\nTape 5.90\nTOTAL RM 5.90"
        #expect(PageContinuity.decide(pages: [cafe, shop]) == .separate(because: "2 pages have a total of their own"))
        #expect(PageContinuity.decide(pages: ["Notes from the meeting\n02/03/2024", "GLOBAL TRADING SDN BHD\nDelivery note\nitems 4"]).merges == false)
        #expect(PageContinuity.decide(pages: [cafe, "BOOKS LTD\nNovel 12.00"]).merges == false, "a total not on the last page")
    }

    @Test("page numbers in sequence merge; numbers starting again, or every page a page 1, do not")
    func numbers() {
        #expect(PageContinuity.decide(pages: ["Contract\nPage 1", "terms\nPage 2", "signatures\nPage 3"]).merges)
        #expect(PageContinuity.decide(pages: ["Contract\nterms", "more terms\nPage 2 of 3"]).merges, "one \"2 of 3\" fits its place")
        #expect(PageContinuity.decide(pages: ["A\nPage 1 of 1", "B\nPage 1 of 1"]) == .separate(because: "the page numbers start again"))
        #expect(PageContinuity.decide(pages: ["A\nPage 12", "B\nPage 3"]).merges == false)
        #expect(PageContinuity.decide(pages: ["Report\n- 1 -", "text\n- 2 -"]).merges)
    }

    @Test("a letter dated on its first page only, and a page that says it continues, are one document; undated pages are not")
    func letters() {
        #expect(PageContinuity.decide(pages: ["Dear Jane,\n3 April 2024\nthank you for", "your letter. Regards"]).merges)
        #expect(PageContinuity.decide(pages: ["Statement", "(continued) more lines"]).merges)
        #expect(PageContinuity.decide(pages: ["some notes", "other notes"]).merges == false)
        #expect(PageContinuity.decide(pages: ["only one page"]) == .separate(because: "one page"))
    }
}
