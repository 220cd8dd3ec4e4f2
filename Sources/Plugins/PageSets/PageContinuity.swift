import Foundation

/// Whether photos sent together are the pages of one document or documents of their own, read from each page's
/// text. Keeping them apart is the safe answer (every page still gets its analysis and the album its report);
/// one document needs evidence that the pages continue each other:
/// - page numbers that run with the photos ("Page 2", "Page 3"; or one "Page 2 of 3" that fits its place), or a
///   later page that says "continued" / "carried forward";
/// - exactly one page has a labelled total, no page after it is dated, and the first page is not dated
///   differently from it (a long receipt photographed in parts, an invoice whose total is on its last page);
/// - no page has a total, the first page is dated and no later page is (a letter's later pages).
/// Evidence of distinct documents wins: page numbers that start again, two or more pages with a total each.
/// Measured on the real corpora (`botgateway-bench pages`: documents cut into bands must merge, albums of
/// distinct documents must not); the README has the figures.
public enum PageContinuity {
    public enum Verdict: Sendable, Equatable {
        case oneDocument(because: String)
        case separate(because: String)

        public var merges: Bool {
            if case .oneDocument = self { return true }
            return false
        }

        public var reason: String {
            switch self {
            case .oneDocument(let because), .separate(let because): because
            }
        }
    }

    /// A printed page number: "Page 2 of 3" → 2 of 3; "Page 2" → 2 of an unknown count.
    public struct PageNumber: Sendable, Equatable {
        public var page: Int
        public var of: Int?
    }

    /// What one page says about where it sits in a document.
    public struct Page: Sendable, Equatable {
        public var number: PageNumber?
        public var continued: Bool
        public var hasTotal: Bool
        public var dates: Set<String>
        /// Its first lines read like a document's head: a company's legal name standing alone.
        public var startsLikeDocument: Bool

        public init(text: String) {
            number = PageContinuity.pageNumber(in: text)
            continued = PageContinuity.has(PageContinuity.continuation, text)
            let mentions = AmountExtractor().mentions(in: MoneyText.lines(text))
            hasTotal = mentions.contains { ($0.role == .payable || $0.role == .total) && $0.value > 0 }
            dates = Set(DateExtractor(monthFirst: false).extract(from: text).map(\.iso))
            startsLikeDocument = PageContinuity.startsLikeDocument(text)
        }
    }

    public static func decide(pages texts: [String]) -> Verdict {
        decide(texts.map(Page.init(text:)))
    }

    public static func decide(_ pages: [Page]) -> Verdict {
        guard pages.count > 1 else { return .separate(because: "one page") }
        switch numbering(pages) {
        case .some(true): return .oneDocument(because: "the pages are numbered in sequence")
        case .some(false): return .separate(because: "the page numbers start again")
        case nil: break
        }
        if pages.dropFirst().contains(where: \.continued) {
            return .oneDocument(because: "a page says it continues")
        }
        if let head = pages.indices.dropFirst().first(where: { pages[$0].startsLikeDocument }) {
            return .separate(because: "page \(head + 1) begins like a document of its own")
        }
        let totals = pages.indices.filter { pages[$0].hasTotal }
        if totals.count > 1 {
            return .separate(because: "\(totals.count) pages have a total of their own")
        }
        let first = pages[0], later = pages.dropFirst()
        if let only = totals.first {
            // What follows a receipt's total (payment, tax summary, "thank you") has no date or total of its own.
            let after = pages[(only + 1)...]
            guard after.allSatisfy({ $0.dates.isEmpty }) else { return .separate(because: "a dated page follows the total") }
            let totalPage = pages[only]
            if only > 0, !first.dates.isEmpty, !totalPage.dates.isEmpty, first.dates.isDisjoint(with: totalPage.dates) {
                return .separate(because: "the first page and the page with the total are dated differently")
            }
            return .oneDocument(because: only == 0 ? "the pages after the total are undated" : "one page has the total")
        }
        if !first.dates.isEmpty, later.allSatisfy({ $0.dates.isEmpty }) {
            return .oneDocument(because: "only the first page is dated")
        }
        return .separate(because: "nothing says the pages belong together")
    }

    /// True when the printed page numbers run in sequence with the photos (2 then 3; or one "2 of 3" that fits
    /// its place), false when they contradict it (two page 1s, 12 then 3), nil when there are none to go by.
    static func numbering(_ pages: [Page]) -> Bool? {
        let numbered = pages.indices.compactMap { index in pages[index].number.map { (index: index, number: $0) } }
        guard let first = numbered.first else { return nil }
        if numbered.count == pages.count, numbered.allSatisfy({ $0.number.page == 1 && ($0.number.of ?? 1) == 1 }) { return false }
        if numbered.count >= 2 {
            return zip(numbered, numbered.dropFirst()).allSatisfy { $1.number.page - $0.number.page == $1.index - $0.index }
        }
        // One number: evidence only with its count ("2 of 3") and a place for the other photos.
        guard let of = first.number.of, of > 1 else { return nil }
        let start = first.number.page - first.index
        return start >= 1 && start + pages.count - 1 <= of
    }

    // MARK: Reading the marks

    static func regex(_ pattern: String) -> NSRegularExpression {
        // Fixed patterns: a failure here is a programming error caught by the first test that runs them.
        try! NSRegularExpression(pattern: pattern, options: [.caseInsensitive, .anchorsMatchLines])
    }

    /// "Page 2 of 3", "page 2/3", "Seite 2 von 3", "p. 2 of 3", "Pág. 2 de 3", "2/3" alone on a line's edge is not
    /// enough (a date or a fraction); "- 2 -" alone on a line is.
    static let numbered = regex(#"\b(?:page|pg|p\.|seite|pagina|página|pág\.?)\s*(\d{1,3})\s*(?:(?:of|von|de|di|sur|/)\s*(\d{1,3}))?\b"#)
    static let centred = regex(#"^\s*[-–]\s*(\d{1,3})\s*[-–]\s*$"#)
    static let continuation = regex(#"\b(?:continued|cont'?d|carried forward|brought forward|fortsetzung|übertrag|à reporter)\b"#)

    /// How many lines from the top a document's head is looked for in.
    static let headLines = 4

    /// A company's legal name (SDN BHD, LTD, GmbH…) standing alone among the page's first lines: where a receipt
    /// or an invoice begins, and what the middle or the foot of one lacks. A labelled line ("Bill To: Northwind
    /// Traders Inc.") names a party, not the issuer.
    static func startsLikeDocument(_ text: String) -> Bool {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.count >= 3 }.prefix(headLines)
        return lines.contains { line in !line.contains(":") && IssuerFinder.hasForm(line) }
    }

    static func has(_ regex: NSRegularExpression, _ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    static func pageNumber(in text: String) -> PageNumber? {
        let range = NSRange(text.startIndex..., in: text)
        let ns = text as NSString
        for match in numbered.matches(in: text, range: range) {
            guard let page = Int(ns.substring(with: match.range(at: 1))), page > 0 else { continue }
            let total = match.range(at: 2).location == NSNotFound ? nil : Int(ns.substring(with: match.range(at: 2)))
            if let total, total < page { continue }
            return PageNumber(page: page, of: total)
        }
        if let match = centred.firstMatch(in: text, range: range), let page = Int(ns.substring(with: match.range(at: 1))), page > 0 {
            return PageNumber(page: page, of: nil)
        }
        return nil
    }
}
