import Foundation

/// Finds dates written the many ways people write them and returns them as ISO 8601 (`YYYY-MM-DD`).
struct DateExtractor {
    /// For `03/02/2024`: whether the month comes first (US style). Day first is the default outside the US.
    var monthFirst: Bool

    struct Found {
        var iso: String
        var range: NSRange
    }

    static let months: [String: Int] = {
        var table: [String: Int] = [:]
        let names: [[String]] = [
            ["january", "jan", "januar", "janvier", "enero", "gennaio", "januari", "jänner"],
            ["february", "feb", "februar", "février", "fevrier", "febrero", "febbraio", "februari"],
            ["march", "mar", "märz", "maerz", "mars", "marzo", "maart"],
            ["april", "apr", "avril", "abril", "aprile"],
            ["may", "mai", "mayo", "maggio", "mei"],
            ["june", "jun", "juni", "juin", "junio", "giugno"],
            ["july", "jul", "juli", "juillet", "julio", "luglio"],
            ["august", "aug", "août", "aout", "agosto", "augustus"],
            ["september", "sep", "sept", "septembre", "septiembre", "settembre"],
            ["october", "oct", "oktober", "octobre", "octubre", "ottobre", "okt"],
            ["november", "nov", "novembre", "noviembre"],
            ["december", "dec", "dezember", "décembre", "decembre", "diciembre", "dicembre", "dez"],
        ]
        for (index, group) in names.enumerated() {
            for name in group { table[name] = index + 1 }
        }
        return table
    }()

    private static let monthPattern = months.keys.sorted { $0.count > $1.count }.map(NSRegularExpression.escapedPattern(for:)).joined(separator: "|")

    private static let patterns: [(NSRegularExpression, Kind)] = {
        let month: String = monthPattern
        // Digits may touch letters (`Dater11/03/18`, `DATE:2018-03-04`) but never other digits.
        let sources: [(String, Kind)] = [
            (#"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"#, .isoNumeric),
            (#"(?<!\d)(\d{4})/(\d{1,2})/(\d{1,2})(?!\d)"#, .isoNumeric),
            (#"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})(?!\d|[.,]\d)"#, .dayMonthYear),
            (#"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\d/])"#, .slashed),
            (#"(?<![\d-])(\d{1,2})-(\d{1,2})-(\d{4}|\d{2})(?![\d-])"#, .slashed),
            (#"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\.?[\s-]*(?:of\s+|de\s+)?("# + month + #")\.?,?[\s-]*(\d{4}|\d{2})(?![\d:])"#, .dayNameYear),
            (#"\b("# + month + #")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)"#, .nameDayYear),
            // Compact (`20180304`), only as a whole token of this century and the last.
            (#"(?<![\d.,/-])((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?![\d.,/-])"#, .isoNumeric),
        ]
        return sources.map { source in
            (try! NSRegularExpression(pattern: source.0, options: [.caseInsensitive]), source.1)
        }
    }()

    /// Whether the document's own numeric dates say month first: a first part over 12 means day first
    /// (`25/12/2024`), a second part over 12 month first. Nil when none settles it, or they disagree.
    static func order(in text: String) -> Bool? {
        let ns = text as NSString
        var dayFirst = 0, monthFirst = 0
        for (regex, kind) in patterns where kind == .slashed {
            for match in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                guard let a = Int(ns.substring(with: match.range(at: 1))), let b = Int(ns.substring(with: match.range(at: 2))) else { continue }
                if a > 12 && a <= 31 && b <= 12 { dayFirst += 1 } else if b > 12 && b <= 31 && a <= 12 { monthFirst += 1 }
            }
        }
        if dayFirst > 0 && monthFirst == 0 { return false }
        if monthFirst > 0 && dayFirst == 0 { return true }
        return nil
    }

    static let dateLabels = try! NSRegularExpression(pattern: #"\b(date|dated|datum|fecha|data|tarikh|issued|bill date|inv\.? date|invoice date|receipt date|le)\b\W*$"#, options: [.caseInsensitive])
    static let laterLabels = try! NSRegularExpression(pattern: #"\b(due|expiry|expires?|exp|valid|until|till|bis|échéance|echeance|vencimiento|scadenza|period|pay by|deadline|return by|next)\b"#, options: [.caseInsensitive])
    private static let timeAfter = try! NSRegularExpression(pattern: #"^\W{0,3}\d{1,2}[:.]\d{2}"#)

    /// The document's own date among the dates found: the one labelled "Date", printed with a time, or the
    /// first, never one labelled due/expiry/valid and never one more than a year after `reference` (the upload).
    /// Also returns the dates worth listing (the far-future ones only when labelled as deadlines).
    func documentDate(in text: String, reference: Date) -> (date: String?, confidence: Double, listed: [String]) {
        // `extract` repairs OCR's digits one character for one, so its ranges hold in the text as given.
        let found = extract(from: text)
        let ns = text as NSString
        let limit = Calendar(identifier: .gregorian).date(byAdding: .year, value: 1, to: reference) ?? reference
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        var best: (iso: String, score: Double)?
        var listed: [String] = []
        for (index, date) in found.enumerated() {
            let lineStart = ns.lineRange(for: NSRange(location: date.range.location, length: 0)).location
            var before = ns.substring(with: NSRange(location: lineStart, length: date.range.location - lineStart))
            if before.trimmingCharacters(in: .whitespaces).isEmpty, lineStart > 0 {
                let previous = ns.lineRange(for: NSRange(location: lineStart - 1, length: 0))
                before = ns.substring(with: previous).trimmingCharacters(in: .newlines) + " "
            }
            let after = ns.substring(from: date.range.location + date.range.length)
            let whole = NSRange(location: 0, length: (before as NSString).length)
            let deadline = Self.laterLabels.firstMatch(in: before, range: whole) != nil
            let future = formatter.date(from: date.iso).map { $0 > limit } ?? false
            if !future || deadline { listed.append(date.iso) }
            guard !future, !deadline else { continue }
            var score = -0.05 * Double(index)
            if Self.dateLabels.firstMatch(in: before, range: whole) != nil { score += 3 }
            if Self.timeAfter.firstMatch(in: after, range: NSRange(location: 0, length: min(12, (after as NSString).length))) != nil { score += 2 }
            if date.iso < "1990" { score -= 3 }
            if score > (best?.score ?? -.infinity) { best = (date.iso, score) }
        }
        guard let best else { return (nil, 0, listed.uniqued()) }
        return (best.iso, best.score >= 2 ? 0.9 : found.count == 1 ? 0.8 : 0.6, listed.uniqued())
    }

    enum Kind {
        case isoNumeric, dayMonthYear, slashed, dayNameYear, nameDayYear
    }

    /// `Oi-11-17`, `O1/O3/2018`, `14-@2-2018`: OCR's letters for digits inside a token shaped like a numeric date.
    private static let letteredDate = try! NSRegularExpression(pattern: #"(?<![\w.,/-])[\dOoIil@]{1,2}([-/.])[\dOoIil@]{1,2}\1[\dOoIil@]{2,4}(?![\w/-])"#)

    static func repairDigits(_ text: String) -> String {
        let ns = NSMutableString(string: text)
        for match in letteredDate.matches(in: text, range: NSRange(location: 0, length: ns.length)).reversed() {
            let token = ns.substring(with: match.range)
            guard token.filter(\.isNumber).count >= 4 else { continue }
            let fixed = String(token.map { "Oo@".contains($0) ? "0" : "Iil".contains($0) ? "1" : $0 })
            ns.replaceCharacters(in: match.range, with: fixed)
        }
        return ns as String
    }

    func extract(from text: String) -> [Found] {
        let text = Self.repairDigits(text)
        let ns = text as NSString
        var found: [Found] = []
        var taken: [NSRange] = []
        for (regex, kind) in Self.patterns {
            for match in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                guard !taken.contains(where: { NSIntersectionRange($0, match.range).length > 0 }) else { continue }
                let groups = (1..<match.numberOfRanges).map { ns.substring(with: match.range(at: $0)) }
                guard let iso = Self.iso(groups, kind: kind, monthFirst: monthFirst) ?? Self.zeroRead(groups, kind: kind, monthFirst: monthFirst)
                else { continue }
                found.append(Found(iso: iso, range: match.range))
                taken.append(match.range)
            }
        }
        return found.sorted { $0.range.location < $1.range.location }
    }

    private static func iso(_ groups: [String], kind: Kind, monthFirst: Bool) -> String? {
        var year: Int, month: Int, day: Int
        switch kind {
        case .isoNumeric:
            guard let y = Int(groups[0]), let m = Int(groups[1]), let d = Int(groups[2]) else { return nil }
            (year, month, day) = (y, m, d)
        case .dayMonthYear:
            guard let d = Int(groups[0]), let m = Int(groups[1]), let y = Int(groups[2]) else { return nil }
            (year, month, day) = (y, m, d)
        case .slashed:
            guard let a = Int(groups[0]), let b = Int(groups[1]), let y = Int(groups[2]) else { return nil }
            // Unambiguous when one side cannot be a month; otherwise the document's convention decides.
            if a > 12 { (day, month) = (a, b) } else if b > 12 { (month, day) = (a, b) } else if monthFirst { (month, day) = (a, b) } else { (day, month) = (a, b) }
            year = y
        case .dayNameYear:
            guard let d = Int(groups[0]), let m = months[groups[1].lowercased()], let y = Int(groups[2]) else { return nil }
            (year, month, day) = (y, m, d)
        case .nameDayYear:
            guard let m = months[groups[0].lowercased()], let d = Int(groups[1]), let y = Int(groups[2]) else { return nil }
            (year, month, day) = (y, m, d)
        }
        if year < 100 { year += year < 70 ? 2000 : 1900 }
        guard (1900...2199).contains(year), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        return String(format: "%04d-%02d-%02d", year, month, day)
    }

    /// A numeric date that is no date (`61/03/18`, `14-92-2018`) read again with the tens digit of its impossible
    /// day or month as the 0 that thermal print's 6, 8 and 9 are so often read for — when exactly one such
    /// reading is a date. Dates that are dates as printed are never changed.
    private static func zeroRead(_ groups: [String], kind: Kind, monthFirst: Bool) -> String? {
        guard kind == .slashed || kind == .dayMonthYear || kind == .isoNumeric else { return nil }
        let parts = kind == .isoNumeric ? [1, 2] : [0, 1]
        var readings: Set<String> = []
        for part in parts {
            let digits = groups[part]
            guard digits.count == 2, let first = digits.first, MoneyText.confusableDigits["0", default: ""].contains(first),
                  let value = Int(digits), value > 12 else { continue }
            var changed = groups
            changed[part] = "0" + digits.dropFirst()
            if let iso = iso(changed, kind: kind, monthFirst: monthFirst) { readings.insert(iso) }
        }
        return readings.count == 1 ? readings.first : nil
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
