import Foundation

/// Finds money amounts with their currency and the label written before them on the same line.
struct AmountExtractor {
    static let symbols: [String: String] = ["$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₽": "RUB", "₴": "UAH", "₺": "TRY", "₩": "KRW", "CHF": "CHF", "Fr.": "CHF", "zł": "PLN", "kr": "SEK"]
    static let codes = ["USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RUB", "UAH", "INR", "CNY", "TRY", "BRL", "MXN", "ZAR", "SGD", "HKD", "KRW", "ILS", "AED"]

    private static let number = #"[-+−]?\d{1,3}(?:[,.\u00A0 ']\d{3})*(?:[.,]\d{1,2})?(?!\d)|[-+−]?\d+(?:[.,]\d{1,2})?(?!\d)"#
    private static let currency = (codes + ["\\$", "€", "£", "¥", "₹", "₽", "₴", "₺", "₩"]).joined(separator: "|")
    private static let prefixed = try! NSRegularExpression(pattern: "(?<![A-Za-z])(" + currency + #")[ \t]*("# + number + ")")
    private static let suffixed = try! NSRegularExpression(pattern: "(" + number + #")[ \t]*("# + currency + ")(?![A-Za-z])")
    /// Bare money-looking numbers (two decimals) on a labelled line: receipt items, statement lines.
    private static let bare = try! NSRegularExpression(pattern: #"(?<![\d.,/:-])([-+−]?\d{1,3}(?:,\d{3})*\.\d{2}|[-+−]?\d{1,3}(?:\.\d{3})*,\d{2})(?![\d%]|[.,]\d)"#)

    func extract(from text: String) -> [Analysis.Amount] {
        var amounts: [Analysis.Amount] = []
        var documentCurrencies: [String: Int] = [:]
        var pending: [(line: String, value: Decimal, range: NSRange)] = []
        for line in text.split(separator: "\n").map(String.init) {
            let ns = line as NSString
            let whole = NSRange(location: 0, length: ns.length)
            var taken: [NSRange] = []
            var lineAmounts: [(NSRange, Analysis.Amount)] = []
            for (regex, currencyGroup, numberGroup) in [(Self.prefixed, 1, 2), (Self.suffixed, 2, 1)] {
                for match in regex.matches(in: line, range: whole) where !taken.contains(where: { NSIntersectionRange($0, match.range).length > 0 }) {
                    let symbol = ns.substring(with: match.range(at: currencyGroup))
                    guard let value = Self.parse(ns.substring(with: match.range(at: numberGroup))) else { continue }
                    let code = Self.symbols[symbol] ?? symbol.uppercased()
                    documentCurrencies[code, default: 0] += 1
                    taken.append(match.range)
                    lineAmounts.append((match.range, Analysis.Amount(value: value, currency: code, label: Self.label(ns, before: match.range))))
                }
            }
            for match in Self.bare.matches(in: line, range: whole) where !taken.contains(where: { NSIntersectionRange($0, match.range).length > 0 }) {
                if let value = Self.parse(ns.substring(with: match.range(at: 1))) {
                    pending.append((line, value, match.range))
                }
            }
            amounts += lineAmounts.sorted { $0.0.location < $1.0.location }.map(\.1)
        }
        // A bare number takes the document's currency when the document uses exactly one.
        guard documentCurrencies.count == 1, let single = documentCurrencies.keys.first else { return amounts }
        for item in pending {
            let label = Self.label(item.line as NSString, before: item.range)
            guard !label.isEmpty else { continue }
            amounts.append(Analysis.Amount(value: item.value, currency: single, label: label))
        }
        return amounts
    }

    /// "1,234.56", "1.234,56", "1 234,56", "−86.45" → Decimal; the last separator followed by 1–2 digits is the decimal point.
    static func parse(_ raw: String) -> Decimal? {
        var text = raw.replacingOccurrences(of: "−", with: "-").replacingOccurrences(of: "\u{00A0}", with: "")
            .replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "'", with: "")
        var sign = ""
        if let first = text.first, first == "-" || first == "+" {
            sign = first == "-" ? "-" : ""
            text.removeFirst()
        }
        if let last = text.lastIndex(where: { $0 == "." || $0 == "," }), text.distance(from: last, to: text.endIndex) <= 3 {
            let whole = text[..<last].filter(\.isNumber)
            let fraction = text[text.index(after: last)...]
            text = whole + "." + fraction
        } else {
            text = text.filter(\.isNumber)
        }
        guard !text.isEmpty else { return nil }
        return Decimal(string: sign + text, locale: Locale(identifier: "en_US_POSIX"))
    }

    /// The words before the amount on its line, without trailing punctuation and filler.
    static func label(_ line: NSString, before range: NSRange) -> String {
        var label = line.substring(to: range.location)
        for code in codes where label.hasSuffix(code) || label.hasSuffix(code + " ") {
            label = String(label.dropLast(label.hasSuffix(" ") ? code.count + 1 : code.count))
        }
        let trimmed = label.trimmingCharacters(in: CharacterSet(charactersIn: " :=\t-–.,*$€£"))
        return trimmed.count > 60 ? String(trimmed.suffix(60)) : trimmed
    }
}
