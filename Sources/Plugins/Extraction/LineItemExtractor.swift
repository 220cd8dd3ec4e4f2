import Foundation

/// The bought lines of a receipt or invoice, kept apart from its totals: the lines above the first
/// subtotal or total whose amounts carry no money word. The last amount on a line is the line's amount,
/// the one before it the unit price; a number ending the description (`Plastic 2`) or a count before a
/// multiplication sign is the quantity. A description that is only a code takes the text line beside it.
struct LineItemExtractor {
    private static let quantityAtEnd = try! NSRegularExpression(pattern: #"(?:^|\s)(\d{1,4}(?:[.,]\d{1,3})?)\s*(?:x|\*|@|pcs|pc|units?|ea)?\s*$"#, options: [.caseInsensitive])
    private static let quantityTimes = try! NSRegularExpression(pattern: #"(?:^|\s)(\d{1,4})\s*(?:x|\*|@)\s"#, options: [.caseInsensitive])

    /// The items, and whether each was read right by its own arithmetic: its printed quantity × unit price is its
    /// amount. A quantity worked out as amount ÷ unit price (`Coffee 3.50 7.00` → 2) checks nothing.
    func extract(lines: [String], mentions: [AmountExtractor.Mention]) -> (items: [Analysis.LineItem], check: Bool) {
        let summaryStart = mentions.first { [.payable, .total, .subtotal, .tendered].contains($0.role) }?.line ?? lines.count
        // The head (name, address, numbers) ends before the first line holding money.
        let firstMoney = mentions.first { $0.cents }?.line ?? lines.count
        let itemLines = Dictionary(grouping: mentions.filter { $0.line < summaryStart && $0.line >= firstMoney && $0.role == .none }, by: \.line)
        let amountLines = Set(mentions.map(\.line))
        var items: [Analysis.LineItem] = []
        var check = true
        for line in itemLines.keys.sorted() {
            let onLine = itemLines[line]!.sorted { $0.position < $1.position }
            guard let last = onLine.last, onLine.count == last.onLine, last.cents else { continue }
            let amount = last.value
            let unit = onLine.count >= 2 ? onLine[onLine.count - 2].value : nil
            var description = onLine[0].label
            var quantity: Decimal?
            let ns = description as NSString
            for regex in [Self.quantityTimes, Self.quantityAtEnd] {
                if let match = regex.firstMatch(in: description, range: NSRange(location: 0, length: ns.length)) {
                    quantity = MoneyText.parse(ns.substring(with: match.range(at: 1)))
                    description = ns.replacingCharacters(in: match.range, with: " ")
                    break
                }
            }
            description = AmountExtractor.clean(description)
            if description.filter(\.isLetter).count < 3 || Self.isCode(description) {
                // "FG-A00019 1 3.80 3.80" / "Green Tea": the name stands on the line below, or above.
                let neighbours = [line + 1, line - 1].filter { $0 >= 0 && $0 < lines.count && !amountLines.contains($0) }
                if let text = neighbours.map({ AmountExtractor.clean(lines[$0]) }).first(where: { $0.filter(\.isLetter).count >= 3 && !Self.isCode($0) }) {
                    description = text
                }
            }
            guard description.filter(\.isLetter).count >= 2, amount != 0 || unit != nil else { continue }
            if let quantity, let unit { check = check && MoneyText.same(quantity * unit, amount) } else { check = false }
            if quantity == nil, let unit, unit != 0 {
                let ratio = amount / unit
                if ratio > 0, ratio == Decimal(Int(truncating: ratio as NSNumber)), ratio <= 1000 { quantity = ratio }
            }
            let item = Analysis.LineItem(description: description, quantity: quantity, unitPrice: unit, amount: amount)
            if items.last != item { items.append(item) }
        }
        return (Array(items.prefix(100)), check && !items.isEmpty)
    }

    /// A product code: one token mixing letters and digits (`FG-A00019`, `CH50514`).
    static func isCode(_ text: String) -> Bool {
        !text.contains(" ") && text.contains(where: \.isNumber) && text.contains(where: \.isLetter)
    }
}
