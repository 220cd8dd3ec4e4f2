import Foundation
import Storage

/// A question put to one's own documents (`/ask`), as retrieval reads it: the words to look for, the kinds of
/// document and the period it names, and whether it asks for a sum or a count.
public struct Question: Sendable, Equatable {
    /// An inclusive span of days, `YYYY-MM-DD`.
    public struct Period: Sendable, Equatable {
        public var from: String
        public var to: String

        public init(from: String, to: String) {
            self.from = from
            self.to = to
        }

        public func contains(_ day: String) -> Bool { day >= from && day <= to }
    }

    public var text: String
    /// The content words (names, things), lower-cased and without accents; each matches a word's beginning.
    public var terms: [String]
    /// Document types the question names (`receipt`, `invoice`, …), as the analysers label them.
    public var kinds: Set<String>
    public var period: Period?
    /// "how much", "total", "spent": the answer adds up the documents' totals.
    public var wantsTotal: Bool
    /// "how many": the answer counts.
    public var wantsCount: Bool

    /// Nothing to look for: no word, kind or period.
    public var isEmpty: Bool { terms.isEmpty && kinds.isEmpty && period == nil }
}

/// Reads a question in English (month names also in German, French and Spanish): dates as "March", "March 2024",
/// "14 March 2024", "2024-03-14", "between March and May", "since January", "in 2023", "last month", "this year".
/// A month without a year is its latest occurrence up to today.
public struct QuestionParser: Sendable {
    let today: DateComponents

    public init(now: Date = Date()) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        today = calendar.dateComponents([.year, .month, .day], from: now)
    }

    public func parse(_ text: String) -> Question {
        let words = Self.words(text)
        var used = Set<Int>()
        var points: [DatePoint] = []
        var index = 0
        // Dates: "2024-03-14", "14 March 2024", "March 14, 2024", "March 2024", "March", "2024".
        while index < words.count {
            let word = words[index]
            if let iso = Self.isoDay(word) {
                points.append(DatePoint(start: index, day: iso.day, month: iso.month, year: iso.year))
                used.insert(index)
            } else if let month = Self.month(word, after: index > 0 ? words[index - 1] : nil, before: index + 1 < words.count ? words[index + 1] : nil) {
                var point = DatePoint(start: index, day: nil, month: month, year: nil)
                used.insert(index)
                if index > 0, !used.contains(index - 1), words[index - 1].count <= 2, let number = Int(words[index - 1]), (1...31).contains(number) {
                    point.day = number
                    point.start = index - 1
                    used.insert(index - 1)
                }
                var next = index + 1
                if point.day == nil, next < words.count, words[next].count <= 2, let number = Int(words[next]), (1...31).contains(number) {
                    point.day = number
                    used.insert(next)
                    next += 1
                }
                if next < words.count, let year = Self.year(words[next]) {
                    point.year = year
                    used.insert(next)
                    index = next
                }
                points.append(point)
            } else if let year = Self.year(word) {
                points.append(DatePoint(start: index, day: nil, month: nil, year: year))
                used.insert(index)
            }
            index += 1
        }
        let period = self.period(points, words: words) ?? relativePeriod(words, used: &used)

        var kinds = Set<String>()
        var terms: [String] = []
        var wantsTotal = false, wantsCount = false
        for (position, word) in words.enumerated() {
            if Self.totalWords.contains(word) { wantsTotal = true }
            if word == "many" || word == "count" || word == "viele" || word == "combien" { wantsCount = true }
            if word == "much" || word == "viel" { wantsTotal = true }
            if let kind = Self.kinds[word] {
                kinds.formUnion(kind)
                continue
            }
            guard !used.contains(position), !Self.stopWords.contains(word), !Self.totalWords.contains(word), word.count >= 2 || Int(word) != nil else { continue }
            if !terms.contains(word) { terms.append(word) }
        }
        return Question(text: text, terms: terms, kinds: kinds, period: period, wantsTotal: wantsTotal, wantsCount: wantsCount)
    }

    /// Lower-cased words without accents; a dash inside an ISO date is kept, and letters written with dots
    /// ("D.I.Y.", "U.S.A.") are one word, as people type them.
    public static func words(_ text: String) -> [String] {
        joinInitials(text).folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil).lowercased()
            .split { !($0.isLetter || $0.isNumber || $0 == "-") }
            .flatMap { part -> [Substring] in isoDay(String(part)) != nil ? [part] : part.split(separator: "-") }
            .map(String.init)
    }

    /// A date as the question names it: a day, a month or a year; `start` is its first word.
    struct DatePoint {
        var start: Int
        var day: Int?
        var month: Int?
        var year: Int?
    }

    /// "D.I.Y." → "DIY": two or more single letters each followed by a dot.
    static func joinInitials(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var out = "", run = "", index = text.startIndex
        func flush() {
            out += run.count >= 2 ? run : run.map { "\($0)." }.joined()
            run = ""
        }
        while index < text.endIndex {
            let character = text[index], next = text.index(after: index)
            let startsWord = index == text.startIndex || !(text[text.index(before: index)].isLetter || text[text.index(before: index)].isNumber)
            if character.isLetter, next < text.endIndex, text[next] == ".", startsWord || !run.isEmpty,
               text.index(after: next) == text.endIndex || !text[text.index(after: next)].isNumber {
                run.append(character)
                index = text.index(after: next)
                continue
            }
            if !run.isEmpty {
                // The last letter of "D.I.Y" (no dot after it).
                if character.isLetter, next == text.endIndex || !(text[next].isLetter || text[next].isNumber) {
                    run.append(character)
                    index = next
                    flush()
                    continue
                }
                flush()
            }
            out.append(character)
            index = next
        }
        if !run.isEmpty { flush() }
        return out
    }

    /// The span the dated words name: two dates are a range ("between March and May", "from 2023 to 2024"),
    /// "since X" runs to today, "before/until X" from the beginning; one date is its day, month or year.
    func period(_ points: [DatePoint], words: [String]) -> Question.Period? {
        guard let first = points.first else { return nil }
        let resolved = resolveYears(points)
        if points.count >= 2 {
            let start = span(resolved[0]).from, end = span(resolved[resolved.count - 1]).to
            return start <= end ? Question.Period(from: start, to: end) : Question.Period(from: end, to: start)
        }
        let only = span(resolved[0])
        let previous = first.start > 0 ? words[first.start - 1] : ""
        if ["since", "after", "seit", "depuis", "desde"].contains(previous) {
            return Question.Period(from: only.from, to: Self.day(today.year!, today.month!, today.day!))
        }
        if ["before", "until", "till", "bis", "avant"].contains(previous) { return Question.Period(from: "0000-01-01", to: only.to) }
        return only
    }

    /// A month without a year: before a later dated point, the year that puts it first (November … February
    /// 2024 → November 2023); else its latest occurrence up to today.
    func resolveYears(_ points: [DatePoint]) -> [DatePoint] {
        var result = points
        for index in result.indices.reversed() where result[index].year == nil {
            let month = result[index].month ?? 1
            if index + 1 < result.count, let later = result[index + 1].year {
                result[index].year = later - (month > (result[index + 1].month ?? 12) ? 1 : 0)
            } else {
                result[index].year = today.year! - (month > today.month! ? 1 : 0)
            }
        }
        return result
    }

    func span(_ point: DatePoint) -> Question.Period {
        let year = point.year ?? today.year!
        switch (point.day, point.month) {
        case (let day?, let month?):
            let day = Self.day(year, month, min(day, Self.lastDay(year, month)))
            return Question.Period(from: day, to: day)
        case (nil, let month?): return Question.Period(from: Self.day(year, month, 1), to: Self.day(year, month, Self.lastDay(year, month)))
        default: return Question.Period(from: Self.day(year, 1, 1), to: Self.day(year, 12, 31))
        }
    }

    /// "this/last month|year|week", "today", "yesterday" (and their words are not search terms).
    func relativePeriod(_ words: [String], used: inout Set<Int>) -> Question.Period? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let now = calendar.date(from: today) else { return nil }
        func text(_ date: Date) -> String {
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            return Self.day(parts.year!, parts.month!, parts.day!)
        }
        for (index, word) in words.enumerated() {
            if word == "today" || word == "heute" { used.insert(index); return Question.Period(from: text(now), to: text(now)) }
            if word == "yesterday" || word == "gestern" {
                used.insert(index)
                let day = text(calendar.date(byAdding: .day, value: -1, to: now)!)
                return Question.Period(from: day, to: day)
            }
            guard index + 1 < words.count, ["this", "last", "past", "previous"].contains(word) else { continue }
            let back = word == "this" ? 0 : 1
            let (year, month) = (today.year!, today.month!)
            switch words[index + 1] {
            case "month":
                used.formUnion([index, index + 1])
                let start = calendar.date(byAdding: .month, value: -back, to: calendar.date(from: DateComponents(year: year, month: month, day: 1))!)!
                let parts = calendar.dateComponents([.year, .month], from: start)
                return Question.Period(from: text(start), to: Self.day(parts.year!, parts.month!, Self.lastDay(parts.year!, parts.month!)))
            case "year":
                used.formUnion([index, index + 1])
                return Question.Period(from: Self.day(year - back, 1, 1), to: Self.day(year - back, 12, 31))
            case "week":
                used.formUnion([index, index + 1])
                return Question.Period(from: text(calendar.date(byAdding: .day, value: back == 0 ? -6 : -13, to: now)!),
                                       to: text(back == 0 ? now : calendar.date(byAdding: .day, value: -7, to: now)!))
            default: continue
            }
        }
        return nil
    }

    static func day(_ year: Int, _ month: Int, _ day: Int) -> String {
        String(format: "%04d-%02d-%02d", year, month, day)
    }

    static func lastDay(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func isoDay(_ word: String) -> (year: Int, month: Int, day: Int)? {
        let parts = word.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), (1...lastDay(year, month)).contains(day) else { return nil }
        return (year, month, day)
    }

    static func year(_ word: String) -> Int? {
        guard word.count == 4, let year = Int(word), (1990...2099).contains(year) else { return nil }
        return year
    }

    /// A month's name; "may", "mar" and the like only where a date is plainly meant (after "in", before a year, …).
    static func month(_ word: String, after previous: String?, before next: String?) -> Int? {
        if let month = months[word] { return month }
        guard let month = ambiguousMonths[word] else { return nil }
        let dated = next.map { year($0) != nil || (Int($0).map { (1...31).contains($0) } ?? false) } ?? false
        let introduced = previous.map { ["in", "since", "from", "between", "and", "to", "until", "of", "during", "before", "after", "im", "en"].contains($0) } ?? false
        return dated || introduced ? month : nil
    }

    static let months: [String: Int] = {
        let names: [[String]] = [
            ["january", "jan", "januar", "janvier", "enero"], ["february", "feb", "februar", "fevrier", "febrero"],
            ["march", "marz", "maerz", "mars", "marzo"], ["april", "apr", "avril", "abril"], ["mai", "mayo"],
            ["june", "jun", "juni", "juin", "junio"], ["july", "jul", "juli", "juillet", "julio"], ["august", "aug", "aout", "agosto"],
            ["september", "sep", "sept", "septembre", "septiembre"], ["october", "oct", "oktober", "octobre", "octubre"],
            ["november", "nov", "novembre", "noviembre"], ["december", "dec", "dezember", "decembre", "diciembre"],
        ]
        var table: [String: Int] = [:]
        for (index, group) in names.enumerated() { for name in group { table[name] = index + 1 } }
        return table
    }()

    static let ambiguousMonths: [String: Int] = ["may": 5, "mar": 3, "avr": 4]

    static let totalWords: Set<String> = ["total", "totals", "spent", "spend", "spending", "sum", "cost", "costs", "paid", "pay", "owe", "owed",
                                          "expenses", "ausgegeben", "bezahlt", "summe", "kosten", "gesamt", "depense", "paye"]

    /// Words that name a kind of document, to the types the analysers give.
    static let kinds: [String: Set<String>] = {
        let groups: [(words: [String], types: Set<String>)] = [
            (["receipt", "receipts", "quittung", "quittungen", "kassenbon", "kassenbons", "beleg", "belege", "ticket", "tickets", "recu", "recus"], ["receipt"]),
            (["invoice", "invoices", "rechnung", "rechnungen", "facture", "factures", "factura", "facturas"], ["invoice"]),
            (["bill", "bills"], ["invoice", "utility_bill"]),
            (["statement", "statements", "kontoauszug", "kontoauszuge", "releve", "releves"], ["bank_statement"]),
            (["payslip", "payslips", "salary", "gehaltsabrechnung", "lohnabrechnung"], ["payslip"]),
            (["contract", "contracts", "agreement", "agreements", "vertrag", "vertrage", "contrat", "contrats"], ["contract"]),
            (["letter", "letters", "brief", "briefe", "lettre", "lettres"], ["letter"]),
            (["insurance", "policy", "policies", "versicherung"], ["insurance"]),
            (["notice", "notices", "reminder", "reminders", "mahnung", "mahnungen"], ["notice"]),
        ]
        var table: [String: Set<String>] = [:]
        for group in groups { for word in group.words { table[word] = group.types } }
        return table
    }()

    /// Question words, pronouns, the verbs of asking, and period words (and `totalWords`): none is what a
    /// document is about.
    static let stopWords: Set<String> = [
        "a", "an", "the", "of", "in", "on", "at", "for", "to", "from", "by", "with", "and", "or", "is", "are", "was", "were", "be", "been",
        "am", "do", "does", "did", "have", "has", "had", "i", "me", "my", "mine", "we", "us", "our", "you", "your", "it", "its", "they", "them",
        "their", "there", "that", "this", "these", "those", "what", "which", "when", "where", "who", "whom", "whose", "why", "how", "much",
        "many", "all", "any", "some", "each", "every", "show", "find", "list", "tell", "give", "get", "got", "about", "between", "since",
        "until", "till", "before", "after", "during", "last", "past", "previous", "next", "month", "months", "year", "years", "week", "weeks",
        "day", "days", "today", "yesterday", "document", "documents", "file", "files", "paper", "papers", "scan", "scans", "photo", "photos",
        "please", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "not", "no", "yes", "so", "than", "then",
        "if", "into", "onto", "over", "under", "per", "via", "as", "just", "only", "also", "too", "very", "ever", "already", "still",
        "count", "number", "amount", "amounts", "money", "sent", "send", "received", "receive", "bought", "buy", "made", "make", "anything",
        "something", "everything", "thing", "things", "here", "up", "out", "again", "ago", "both", "one", "ones", "other",
        "see", "look", "want", "need", "know", "say", "says", "said", "mention", "mentions", "mentioned", "contain", "contains",
        "due",
        // German, French, Spanish
        "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "und", "oder", "von", "vom", "bei", "mit", "fur", "im", "ist",
        "sind", "war", "ich", "mein", "meine", "meinen", "mir", "wie", "viel", "viele", "welche", "welcher", "wann", "wo", "habe",
        "hat", "hatte", "alle", "seit", "bis", "zwischen", "le", "la", "les", "un",
        "une", "du", "de", "et", "ou", "mon", "ma", "mes", "combien", "quand", "quel", "quelle", "quels", "ai", "j", "depuis", "entre",
        "el", "los", "las", "y", "o", "mi", "mis", "cuanto", "cuantos", "cuando", "que", "desde", "en",
    ]
}
