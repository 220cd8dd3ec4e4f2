import Foundation

/// Tells the kind of document from its words: keyword scores, with words in the heading counting more
/// and the structure of a letter (salutation, closing) counting most.
struct DocumentClassifier {
    struct Kind {
        var type: String
        var label: String
        var keywords: [String]
        /// Words that settle it when they stand in the first lines (a heading).
        var headings: [String]
    }

    static let kinds: [Kind] = [
        Kind(type: "invoice", label: "Invoice", keywords: ["invoice", "bill to", "invoice no", "amount due", "total due", "due date", "vat", "rechnung", "facture"], headings: ["invoice", "rechnung", "facture", "tax invoice"]),
        Kind(type: "receipt", label: "Receipt", keywords: ["receipt", "cash", "card payment", "visa", "mastercard", "change", "thank you for your visit", "cashier", "quittung", "kassenbon"], headings: ["receipt", "cafe", "restaurant", "store", "market"]),
        Kind(type: "bank_statement", label: "Bank statement", keywords: ["statement", "opening balance", "closing balance", "account number", "account holder", "statement period", "kontoauszug"], headings: ["account statement", "bank statement", "bank"]),
        Kind(type: "utility_bill", label: "Utility bill", keywords: ["electricity", "kwh", "consumption", "meter", "billing period", "gas", "water", "network fee", "energy charge"], headings: ["electricity bill", "gas bill", "water bill", "power", "energy"]),
        Kind(type: "payslip", label: "Payslip", keywords: ["payslip", "pay slip", "gross pay", "net pay", "employee", "employer", "income tax", "social security", "pay date"], headings: ["payslip", "pay slip", "salary statement"]),
        Kind(type: "contract", label: "Contract", keywords: ["agreement", "contract", "landlord", "tenant", "hereby", "terms", "term starts", "signed", "party", "parties"], headings: ["agreement", "contract", "vertrag"]),
        Kind(type: "delivery_note", label: "Delivery note", keywords: ["delivery note", "delivery date", "order number", "received in good order", "recipient", "shipped", "lieferschein"], headings: ["delivery note", "lieferschein", "packing slip"]),
        Kind(type: "insurance", label: "Insurance document", keywords: ["insurance", "policy number", "insured", "insurer", "premium", "coverage", "cover"], headings: ["certificate of insurance", "insurance"]),
        Kind(type: "letter", label: "Letter", keywords: ["dear", "yours sincerely", "sincerely", "kind regards", "best regards", "yours faithfully", "sehr geehrte", "mit freundlichen"], headings: []),
        Kind(type: "notice", label: "Notice", keywords: ["notice", "reminder", "due back", "late fee", "overdue", "mahnung"], headings: ["notice", "reminder", "mahnung"]),
    ]

    static let structuralWeight = 4.0
    static let headingWeight = 5.0

    /// The best kind and how far ahead of the runner-up it is (0…1).
    func classify(_ text: String) -> (kind: Kind?, margin: Double) {
        let lower = text.lowercased()
        let heading = text.split(separator: "\n").prefix(3).joined(separator: " ").lowercased()
        var scores: [(Kind, Double)] = []
        for kind in Self.kinds {
            var score = 0.0
            for keyword in kind.keywords {
                let hits = Self.count(keyword, in: lower)
                let weight = kind.type == "letter" ? Self.structuralWeight : 1
                score += Double(min(hits, 3)) * weight
            }
            for word in kind.headings where Self.count(word, in: heading) > 0 {
                score += Self.headingWeight
            }
            scores.append((kind, score))
        }
        scores.sort { $0.1 > $1.1 }
        guard let best = scores.first, best.1 >= 2 else { return (nil, 0) }
        let second = scores.count > 1 ? scores[1].1 : 0
        return (best.0, (best.1 - second) / best.1)
    }

    /// Whether lower-cased text says any word of these kinds (a receipt the analyser could not place still says
    /// "cashier" or "thank you for your visit").
    static func mentions(_ types: Set<String>, in lowered: String) -> Bool {
        // Keywords only: headings such as "market" or "store" stand in addresses too.
        kinds.contains { kind in types.contains(kind.type) && kind.keywords.contains { count($0, in: lowered) > 0 } }
    }

    /// Whole-word occurrences.
    static func count(_ word: String, in text: String) -> Int {
        var count = 0
        var searchRange = text.startIndex..<text.endIndex
        while let found = text.range(of: word, range: searchRange) {
            let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
            let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
            if !(before?.isLetter ?? false), !(after?.isLetter ?? false) { count += 1 }
            searchRange = found.upperBound..<text.endIndex
        }
        return count
    }
}
