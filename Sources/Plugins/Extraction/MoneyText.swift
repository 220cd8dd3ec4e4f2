import Foundation

/// Repairs what OCR does to money on a line before anything reads it: `O` for `0` inside numbers
/// (`1O.40`), `S` for `5` and `I` for `1` after a currency mark (`RMS.98`, `RMI3.98`), a space after the decimal point (`68. 87`, `RM 27. 00`), the `RM` of Malaysian receipts read
/// as `RH`/`RN`. Only shapes that cannot be words are touched, so text stays text.
enum MoneyText {
    private static let letterO = try! NSRegularExpression(pattern: #"(?<=\d)[Oo](?=[\d.,])|(?<=\d[.,])[Oo](?=\d|\b)|(?<=[.,]\d)[Oo](?!\w)|(?<![\w.,])[Oo](?=[.,]\d\d(?!\d))"#)
    /// `RMS.98`, `RMI3.98`, `$1S.50`: S for 5, I or l for 1, right after a currency mark or inside digits.
    private static let letterDigits = try! NSRegularExpression(pattern: #"(?<=RM|\$|€|£)[SIl](?=\d*[.,]\d\d(?!\d))|(?<=\d)[SIl](?=\d*[.,]\d\d(?!\d))"#)
    private static let spacedDecimals = try! NSRegularExpression(pattern: #"(?<=\d)([.,]) (?=\d\d(?![\d.,]))"#)
    private static let ringgitMisread = try! NSRegularExpression(pattern: #"(?<![A-Za-z])R[HN](?=[\s:]*[\d.])"#)
    private static let ringgit = try! NSRegularExpression(pattern: #"(?<![A-Za-z])RM(?![A-Za-z])"#)

    /// The document's lines with money repaired. `RH`/`RN` become `RM` only where the document prints `RM`
    /// elsewhere: the misread needs the real thing beside it to be believed.
    static func lines(_ text: String) -> [String] {
        let printsRinggit = ringgit.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            repair(String(line), ringgit: printsRinggit)
        }
    }

    static func repair(_ line: String, ringgit: Bool = false) -> String {
        var line = replace(letterO, in: line, with: "0")
        let ns = NSMutableString(string: line)
        for match in letterDigits.matches(in: line, range: NSRange(location: 0, length: ns.length)).reversed() {
            ns.replaceCharacters(in: match.range, with: ns.substring(with: match.range) == "S" ? "5" : "1")
        }
        line = ns as String
        line = replace(spacedDecimals, in: line, with: "$1")
        if ringgit { line = replace(ringgitMisread, in: line, with: "RM") }
        return line
    }

    private static func replace(_ regex: NSRegularExpression, in text: String, with template: String) -> String {
        regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
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
            text = (whole.isEmpty ? "0" : whole) + "." + fraction
        } else {
            text = text.filter(\.isNumber)
        }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else { return nil }
        return Decimal(string: sign + text, locale: Locale(identifier: "en_US_POSIX"))
    }

    /// Digits that faded thermal print and dot-matrix print are read for one another: a stroke or a row of dots
    /// lost (`8` → `6`, `6` → `0`) or one too many (`5` → `9`).
    static let confusableDigits: [Character: String] = [
        "0": "689", "1": "7", "3": "8", "5": "69", "6": "0589", "7": "1", "8": "0369", "9": "0568",
    ]

    /// The amounts `value` is printed as with one digit misread (`16.00` → `10.00`, `18.00`, …), to the cent.
    static func misreadings(of value: Decimal) -> [Decimal] {
        let cents = NSDecimalNumber(decimal: (value.magnitude * 100)).intValue
        let digits = Array(String(cents))
        var readings: [Decimal] = []
        for (index, digit) in digits.enumerated() {
            for other in confusableDigits[digit] ?? "" {
                var changed = digits
                changed[index] = other
                guard let number = Int(String(changed)) else { continue }
                readings.append(Decimal(number) / 100)
            }
        }
        return readings
    }

    /// Whether `a` and `b` are one misread digit apart.
    static func oneMisreadApart(_ a: Decimal, _ b: Decimal) -> Bool {
        misreadings(of: a).contains { same($0, b) }
    }

    /// Money compared as printed: to the cent.
    static func same(_ a: Decimal, _ b: Decimal) -> Bool {
        (a - b).magnitude < halfCent
    }

    private static let halfCent = Decimal(string: "0.005")!
}
