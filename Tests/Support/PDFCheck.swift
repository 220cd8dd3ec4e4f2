import Foundation

/// What poppler's and qpdf's command-line tools (Debian's poppler-utils and qpdf) say about a PDF: how the
/// searchable-PDF tests check our files with programs other than the one that wrote them.
public enum PDFCheck {
    /// A word as `pdftotext -bbox` places it, in points from the page's top left.
    public struct Word: Sendable {
        public var text: String
        public var xMin: Double
        public var yMin: Double
        public var xMax: Double
        public var yMax: Double
    }

    public struct Page: Sendable {
        public var width: Double
        public var height: Double
        public var words: [Word]
    }

    /// The tools the checks need, or what is missing (`scripts/setup` installs them).
    public static var missingTools: [String] {
        ["pdftotext", "pdfinfo", "pdfimages", "qpdf"].filter { tool in
            !["/usr/bin", "/usr/local/bin", "/bin"].contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
        }
    }

    /// `pdfinfo`'s page count; nil when it refuses the file.
    public static func pageCount(_ path: String) throws -> Int? {
        let outcome = try ChildProcess.run(["pdfinfo", path])
        guard outcome.exitCode == 0, !outcome.standardError.contains("Syntax Error") else { return nil }
        return outcome.standardOutput.split(separator: "\n").first { $0.hasPrefix("Pages:") }
            .flatMap { Int($0.dropFirst("Pages:".count).trimmingCharacters(in: .whitespaces)) }
    }

    /// `qpdf --check`: exit 0 means no syntax or stream-encoding errors (2 is errors, 3 warnings).
    public static func qpdfCheck(_ path: String) throws -> (exitCode: Int32, output: String) {
        let outcome = try ChildProcess.run(["qpdf", "--check", path])
        return (outcome.exitCode, outcome.standardOutput + outcome.standardError)
    }

    /// The text in content order (`pdftotext -raw`), whitespace folded to single spaces.
    public static func text(_ path: String) throws -> String {
        folded(try ChildProcess.run(["pdftotext", "-raw", path, "-"]).standardOutput)
    }

    public static func folded(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// The same characters in the same order, spaces aside, and nearly the same words: pdftotext splits a word
    /// whose letters it finds spaced out ("Softw are") and joins two whose boxes touch (stray marks read off a
    /// washed-out photo, "Ir" "HFraert:"), which is its reading, not a different text.
    public static func sameText(_ extracted: String, _ ocr: String) -> Bool {
        let (a, b) = (folded(extracted), folded(ocr))
        let words = (a.split(separator: " ").count, b.split(separator: " ").count)
        return a.filter { $0 != " " } == b.filter { $0 != " " } && Double(abs(words.0 - words.1)) <= max(2, 0.03 * Double(words.1))
    }

    /// Each page's size and words with their boxes (`pdftotext -bbox`).
    public static func pages(_ path: String) throws -> [Page] {
        let xhtml = try ChildProcess.run(["pdftotext", "-bbox", path, "-"]).standardOutput
        var pages: [Page] = []
        for line in xhtml.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("<page ") {
                pages.append(Page(width: number("width", in: line) ?? 0, height: number("height", in: line) ?? 0, words: []))
            } else if line.hasPrefix("<word "), !pages.isEmpty, let close = line.range(of: ">"), let end = line.range(of: "</word>") {
                let text = String(line[close.upperBound..<end.lowerBound])
                    .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                    .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
                    .replacingOccurrences(of: "&amp;", with: "&")
                pages[pages.count - 1].words.append(Word(text: text, xMin: number("xMin", in: line) ?? 0, yMin: number("yMin", in: line) ?? 0,
                                                         xMax: number("xMax", in: line) ?? 0, yMax: number("yMax", in: line) ?? 0))
            }
        }
        return pages
    }

    /// The share of the OCR text's characters (spaces aside) that the extracted text has, in the same order.
    public static func sharedCharacters(_ extracted: String, _ ocr: String) -> Double {
        let (a, b) = (Array(extracted.filter { !$0.isWhitespace }), Array(ocr.filter { !$0.isWhitespace }))
        guard !b.isEmpty else { return a.isEmpty ? 1 : 0 }
        // Longest common subsequence, one row at a time.
        var previous = [Int](repeating: 0, count: b.count + 1)
        for x in a {
            var current = [Int](repeating: 0, count: b.count + 1)
            for (j, y) in b.enumerated() { current[j + 1] = x == y ? previous[j] + 1 : max(previous[j + 1], current[j]) }
            previous = current
        }
        return Double(previous[b.count]) / Double(b.count)
    }

    /// How each embedded page image is encoded (`pdfimages -list`'s enc column: ccitt, jpeg, image, …).
    public static func imageEncodings(_ path: String) throws -> [String] {
        try ChildProcess.run(["pdfimages", "-list", path]).standardOutput.split(separator: "\n").dropFirst(2).compactMap { line in
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            return columns.count > 8 ? String(columns[8]) : nil
        }
    }

    private static func number(_ attribute: String, in line: String) -> Double? {
        guard let start = line.range(of: "\(attribute)=\"") else { return nil }
        return Double(line[start.upperBound...].prefix { $0 != "\"" })
    }
}
