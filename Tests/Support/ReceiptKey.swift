import Foundation

/// A receipt's annotated facts (`NAME.key.json` in `../shared/corpora/receipts`, SROIE task 3) and how an
/// extraction is scored against them, as the corpora's README says: total equal as a number, date the same
/// day (the key is day-first), company a case-folded fuzzy match (ratio ≥ 0.8) or containment.
public struct ReceiptKey: Decodable, Sendable {
    public var company: String?
    public var date: String?
    public var total: String?

    /// The key beside a corpus image.
    public static func load(for item: OCRCorpus.Item) throws -> ReceiptKey {
        let image = URL(fileURLWithPath: item.path)
        let name = image.deletingPathExtension().lastPathComponent
        let data = try Data(contentsOf: image.deletingLastPathComponent().appendingPathComponent("\(name).key.json"))
        return try JSONDecoder().decode(ReceiptKey.self, from: data)
    }

    public func totalMatches(_ found: Decimal?) -> Bool {
        guard let found, let truth = total.flatMap(Self.number) else { return false }
        return found == truth
    }

    public func dateMatches(_ iso: String?) -> Bool {
        guard let iso, let truth = date.flatMap(Self.dayFirst) else { return false }
        return iso == truth
    }

    public func companyMatches(_ name: String?) -> Bool {
        guard let name, let company else { return false }
        return Self.sameName(name, company)
    }

    /// `RM 30.00`, `$8.20`, `1,234.50` → the number.
    public static func number(_ text: String) -> Decimal? {
        let digits = text.filter { $0.isNumber || $0 == "." }
        return digits.isEmpty ? nil : Decimal(string: digits)
    }

    /// The key's day-first date (`09/01/2019`, `01-11-17`, `05 MAR 2018`, `20180304`) as `YYYY-MM-DD`.
    public static func dayFirst(_ text: String) -> String? {
        let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        let parts = text.uppercased().split(whereSeparator: { " /-.".contains($0) }).map(String.init)
        var day: Int?, month: Int?, year: Int?
        if parts.count == 1, parts[0].count == 8, let value = Int(parts[0]) {
            (year, month, day) = (value / 10000, value / 100 % 100, value % 100)
        } else if parts.count == 3 {
            day = Int(parts[0])
            month = Int(parts[1]) ?? months.firstIndex(where: { parts[1].hasPrefix($0) }).map { $0 + 1 }
            year = Int(parts[2]).map { $0 < 100 ? 2000 + $0 : $0 }
        }
        guard let day, let month, let year, (1...31).contains(day), (1...12).contains(month) else { return nil }
        return String(format: "%04d-%02d-%02d", year, month, day)
    }

    /// Case-folded containment, or a similarity ratio (2 × longest common subsequence / total length) ≥ 0.8.
    public static func sameName(_ found: String, _ truth: String) -> Bool {
        func fold(_ text: String) -> [Character] {
            Array(text.lowercased().filter { $0.isLetter || $0.isNumber || $0 == " " }.split(separator: " ").joined(separator: " "))
        }
        let a = fold(found), b = fold(truth)
        guard !a.isEmpty, !b.isEmpty else { return false }
        if String(a).contains(String(b)) || (a.count >= 4 && String(b).contains(String(a))) { return true }
        var previous = [Int](repeating: 0, count: b.count + 1)
        for x in a {
            var current = [0]
            current.reserveCapacity(b.count + 1)
            for (j, y) in b.enumerated() { current.append(x == y ? previous[j] + 1 : max(previous[j + 1], current[j])) }
            previous = current
        }
        return 2 * Double(previous[b.count]) / Double(a.count + b.count) >= 0.8
    }
}
