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
        let sources: [(String, Kind)] = [
            (#"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"#, .isoNumeric),
            (#"\b(\d{4})/(\d{1,2})/(\d{1,2})\b"#, .isoNumeric),
            (#"\b(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})\b"#, .dayMonthYear),
            (#"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b"#, .slashed),
            (#"\b(\d{1,2})(?:st|nd|rd|th)?\.?\s+(?:of\s+|de\s+)?("# + month + #")\.?,?\s+(\d{4})\b"#, .dayNameYear),
            (#"\b("# + month + #")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b"#, .nameDayYear),
        ]
        return sources.map { source in
            (try! NSRegularExpression(pattern: source.0, options: [.caseInsensitive]), source.1)
        }
    }()

    enum Kind {
        case isoNumeric, dayMonthYear, slashed, dayNameYear, nameDayYear
    }

    func extract(from text: String) -> [Found] {
        let ns = text as NSString
        var found: [Found] = []
        var taken: [NSRange] = []
        for (regex, kind) in Self.patterns {
            for match in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                guard !taken.contains(where: { NSIntersectionRange($0, match.range).length > 0 }) else { continue }
                let groups = (1..<match.numberOfRanges).map { ns.substring(with: match.range(at: $0)) }
                guard let iso = Self.iso(groups, kind: kind, monthFirst: monthFirst) else { continue }
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

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
