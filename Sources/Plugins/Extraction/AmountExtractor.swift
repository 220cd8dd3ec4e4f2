import Foundation

/// Finds every money amount on a document, line by line: the number, the currency printed with it (if
/// any), the words before it and what those words say it is (`MoneyLabel`). Amounts with a currency may be
/// whole numbers (`Due $99`); bare ones need two decimals (`TOTAL 10.90`), which is how receipts and
/// invoices print money and what keeps phone numbers, dates and quantities out.
struct AmountExtractor {
    struct Mention: Equatable {
        var value: Decimal
        /// ISO 4217 code printed with the amount, on its line, or nil.
        var currency: String?
        /// The words before the amount on its line (or the line above, for a label standing alone).
        var label: String
        var role: MoneyLabel
        var line: Int
        /// How many amounts its line holds, and which one this is.
        var position: Int
        var onLine: Int
        /// Printed with a decimal part (`12.50`, not `12`): how money looks, as opposed to codes and counts.
        var cents: Bool
    }

    static let symbols: [String: String] = [
        "$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "Rs": "INR", "Rs.": "INR", "₽": "RUB", "₴": "UAH",
        "₺": "TRY", "₩": "KRW", "CHF": "CHF", "Fr.": "CHF", "zł": "PLN", "kr": "SEK", "RM": "MYR", "S$": "SGD", "A$": "AUD", "C$": "CAD",
        "HK$": "HKD", "NZ$": "NZD", "R$": "BRL", "Rp": "IDR", "฿": "THB", "₱": "PHP", "₫": "VND", "₪": "ILS",
    ]
    static let codes = ["USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RUB", "UAH", "INR",
                        "CNY", "TRY", "BRL", "MXN", "ZAR", "SGD", "HKD", "KRW", "ILS", "AED", "MYR", "IDR", "THB", "PHP", "VND", "SAR"]

    private static let number = #"[-+−]?\d{1,3}(?:[,.\u00A0 ']\d{3})*(?:[.,]\d{1,2})?(?![\d.,]\d)|[-+−]?\d+(?:[.,]\d{1,2})?(?![\d.,]\d)"#
    private static let currency: String = {
        let marks = ["US$", "HK$", "NZ$", "S$", "A$", "C$", "R$", "$", "€", "£", "¥", "₹", "₽", "₴", "₺", "₩", "฿", "₱", "₫", "₪", "RM", "Rs.", "Rs", "Rp"]
        return (codes + marks.map(NSRegularExpression.escapedPattern(for:))).joined(separator: "|")
    }()
    private static let prefixed = try! NSRegularExpression(pattern: "(?<![A-Za-z])(" + currency + #")[ \t]*[:=]?[ \t]*("# + number + ")")
    private static let suffixed = try! NSRegularExpression(pattern: "(" + number + #")[ \t]*("# + currency + ")(?![A-Za-z])")
    /// Two decimals; a signed one may drop its zero (`RM -.02`, a rounding).
    private static let bare = try! NSRegularExpression(pattern: #"(?<![\d.,/:])([-−]?(?:\d{1,3}(?:,\d{3})+\.\d{2}|\d{1,3}(?:\.\d{3})+,\d{2}|\d+[.,]\d{2})|[-−]\.\d{2})(?![\d%]|[.,]\d)"#)
    private static let labelCurrency = try! NSRegularExpression(pattern: #"\((?:in\s+)?("# + codes.joined(separator: "|") + #"|RM|\$|€|£)\)"#)

    static func code(_ mark: String) -> String {
        symbols[mark] ?? symbols[mark.trimmingCharacters(in: CharacterSet(charactersIn: "."))] ?? mark.uppercased()
    }

    /// The mentions on already repaired lines (`MoneyText.lines`).
    func mentions(in lines: [String]) -> [Mention] {
        var mentions: [Mention] = []
        var pendingLabel: (text: String, line: Int)?
        for (index, line) in lines.enumerated() {
            let ns = line as NSString
            let whole = NSRange(location: 0, length: ns.length)
            var found: [(range: NSRange, value: Decimal, currency: String?, cents: Bool)] = []
            func free(_ range: NSRange) -> Bool { !found.contains { NSIntersectionRange($0.range, range).length > 0 } }
            for (regex, currencyGroup, numberGroup) in [(Self.prefixed, 1, 2), (Self.suffixed, 2, 1)] {
                for match in regex.matches(in: line, range: whole) where free(match.range) {
                    let digits = ns.substring(with: match.range(at: numberGroup))
                    guard let value = MoneyText.parse(digits) else { continue }
                    found.append((match.range, value, Self.code(ns.substring(with: match.range(at: currencyGroup))), Self.hasCents(digits)))
                }
            }
            for match in Self.bare.matches(in: line, range: whole) where free(match.range) {
                if let value = MoneyText.parse(ns.substring(with: match.range(at: 1))) { found.append((match.range, value, nil, true)) }
            }
            found.sort { $0.range.location < $1.range.location }
            let lineCurrency = Self.labelCurrency.firstMatch(in: line, range: whole).map { Self.code(ns.substring(with: $0.range(at: 1))) }

            var start = 0
            for (position, item) in found.enumerated() {
                var label = Self.clean(ns.substring(with: NSRange(location: start, length: item.range.location - start)))
                if position > 0 && label.isEmpty { label = mentions.last?.label ?? "" }
                // A label standing alone on the line above ("TOTAL AMOUNT PAYABLE" / "RM 41.95").
                if position == 0, MoneyLabel(label) == .none, let pending = pendingLabel, pending.line == index - 1,
                   label.filter(\.isLetter).count <= 3 {
                    label = pending.text
                }
                mentions.append(Mention(value: item.value, currency: item.currency ?? lineCurrency, label: label, role: MoneyLabel(label),
                                        line: index, position: position, onLine: found.count, cents: item.cents))
                start = item.range.location + item.range.length
            }
            let text = Self.clean(line)
            pendingLabel = found.isEmpty && MoneyLabel(text).isSummary && text.count <= 40 ? (text, index) : nil
        }
        return mentions
    }

    static func hasCents(_ number: String) -> Bool {
        guard let separator = number.lastIndex(where: { $0 == "." || $0 == "," }) else { return false }
        return number.distance(from: separator, to: number.endIndex) == 3
    }

    /// The label as a person would write it: without the currency marks, leaders and punctuation around it.
    static func clean(_ raw: String) -> String {
        var label = raw
        for code in codes + ["RM"] where label.hasSuffix(" " + code) || label == code || label.hasSuffix(":" + code) {
            label = String(label.dropLast(code.count))
        }
        label = label.replacingOccurrences(of: #"[.\-_=~*…]{2,}"#, with: " ", options: .regularExpression)
        let trimmed = label.trimmingCharacters(in: CharacterSet(charactersIn: " :;=\t-–—.,*$€£¥|!'\"‘’“”~_@#>«»"))
            .replacingOccurrences(of: #"\s{2,}"#, with: " ", options: .regularExpression)
        return trimmed.count > 60 ? String(trimmed.suffix(60)) : trimmed
    }
}
