import Foundation
import Storage

/// One document that answers a question: what it is, its facts, and the lines of its text the question's
/// words stand in.
public struct AskMatch: Sendable, Equatable {
    public var jobCode: String
    public var name: String
    public var documentType: String?
    /// `YYYY-MM-DD`: the document's own date, else the day it arrived.
    public var date: String
    public var issuer: String?
    public var total: Analysis.Amount?
    /// The best lines of its text for the question (at most two), as read.
    public var lines: [String]
    /// Every line around the question's words (for a model to read), capped.
    public var excerpt: [String]
    public var score: Double

    public init(jobCode: String, name: String, documentType: String?, date: String, issuer: String?, total: Analysis.Amount?, lines: [String],
                excerpt: [String], score: Double) {
        self.jobCode = jobCode
        self.name = name
        self.documentType = documentType
        self.date = date
        self.issuer = issuer
        self.total = total
        self.lines = lines
        self.excerpt = excerpt
        self.score = score
    }
}

/// What the documents say to a question: the matches (best first) and their totals per currency.
public struct AskFindings: Sendable, Equatable {
    /// The bottom lines of some matches added up, in one currency.
    public struct Total: Sendable, Equatable {
        /// ISO 4217; "" where none could be told.
        public var currency: String
        public var value: Decimal
        public var documents: Int

        public init(currency: String, value: Decimal, documents: Int) {
            self.currency = currency
            self.value = value
            self.documents = documents
        }
    }

    public var question: Question
    public var matches: [AskMatch]
    /// The matches' bottom lines added up per currency, the currency most documents have first.
    public var totals: [Total]
    /// The question's words no document holds.
    public var unmatchedTerms: [String]

    public init(question: Question, matches: [AskMatch], totals: [Total], unmatchedTerms: [String]) {
        self.question = question
        self.matches = matches
        self.totals = totals
        self.unmatchedTerms = unmatchedTerms
    }
}

/// Ranks one person's documents against a question: each word weighs by how rare it is among them (a word on
/// every receipt says little), a word in the issuer, parties or title counts half again in the order, and the kinds and
/// period the question names filter (a document the analyser could not type passes a kind when it says one
/// of the kind's words). Documents holding under two thirds of the weight the best one holds are left out, so a
/// question about "corner cafe" does not add up every receipt that says "cafe".
public struct AskRetrieval: Sendable {
    public static let keepRatio = 2.0 / 3.0
    public static let excerptLines = 30

    public init() {}

    public func findings(for question: Question, in documents: [JobDetails]) -> AskFindings {
        let terms = question.terms
        // Where each document holds each word, found once: in its names, elsewhere in it, or not at all.
        let readable = documents.compactMap(Candidate.init).map { candidate in
            (candidate, terms.map { term -> Holding in
                if candidate.names.contains(where: { Self.matches(term, $0) }) { return .name }
                return candidate.words.contains { Self.matches(term, $0) } ? .text : .none
            })
        }
        // Inverse document frequency over the person's own documents: ln(1 + N / (1 + documents with the word)).
        let weights = terms.indices.map { index in
            log(1 + Double(readable.count) / Double(1 + readable.count { $0.1[index] != .none }))
        }
        var scored: [(candidate: Candidate, coverage: Double, score: Double)] = []
        for (candidate, holdings) in readable {
            if !question.kinds.isEmpty, !candidate.isKind(question.kinds) { continue }
            if let period = question.period, !period.contains(candidate.date) { continue }
            let coverage = zip(holdings, weights).reduce(0.0) { $0 + ($1.0 == .none ? 0 : $1.1) }
            let score = zip(holdings, weights).reduce(0.0) { $0 + ($1.0 == .name ? 1.5 : $1.0 == .text ? 1 : 0) * $1.1 }
            if terms.isEmpty || coverage > 0 { scored.append((candidate, coverage, score)) }
        }
        // Kept by how much of the question they hold; ordered with the names' boost.
        let best = scored.map(\.coverage).max() ?? 0
        let kept = scored.filter { terms.isEmpty || $0.coverage >= best * Self.keepRatio - 1e-9 }
            .sorted { ($0.score, $0.candidate.date, $0.candidate.details.job.id ?? 0) > ($1.score, $1.candidate.date, $1.candidate.details.job.id ?? 0) }
        let matches = kept.map { candidate, _, score in
            let total = candidate.analysis?.primaryAmount
            let hits = candidate.lines.map { line in
                let words = QuestionParser.words(line)
                return terms.count { term in words.contains { Self.matches(term, $0) } }
            }
            return AskMatch(jobCode: candidate.details.job.code, name: candidate.details.job.sourceName, documentType: candidate.analysis?.documentType,
                            date: candidate.date, issuer: candidate.analysis?.primaryIssuer, total: total,
                            lines: Self.bestLines(candidate.lines, hits: hits, total: total, showTotal: question.wantsTotal),
                            excerpt: Self.excerpt(candidate.lines, hits: hits), score: score)
        }
        let unmatched = terms.indices.filter { index in !readable.contains { $0.1[index] != .none } }.map { terms[$0] }
        return AskFindings(question: question, matches: matches, totals: Self.totals(matches), unmatchedTerms: unmatched)
    }

    /// Where a document holds one of the question's words.
    enum Holding {
        case name, text, none
    }

    /// A document as the ranking reads it.
    struct Candidate {
        var details: JobDetails
        var analysis: Analysis?
        var lines: [String]
        /// Every word of its text and analysis, folded.
        var words: Set<String>
        /// The words of its issuer, parties and title.
        var names: Set<String>
        var date: String

        init?(_ details: JobDetails) {
            guard let text = details.document.ocrText, !text.isEmpty else { return nil }
            self.details = details
            analysis = details.analysis
            lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            var names = [analysis?.title, analysis?.issuer].compactMap { $0 } + (analysis?.parties ?? [])
            names += [details.job.sourceName]
            self.names = Set(QuestionParser.words(names.joined(separator: " ")))
            let facts = (analysis?.keyFacts ?? []).map(\.value).joined(separator: " ")
            words = Set(QuestionParser.words(text + " " + facts)).union(self.names)
            date = analysis?.primaryDate.flatMap { QuestionParser.isoDay($0) != nil ? $0 : nil } ?? details.job.createdAt.utcDay
        }

        /// Its type is one of them; or it has none ("other"), or it is a receipt asked for as an invoice or the
        /// other way round (shops print "TAX INVOICE" on till receipts), and it says a word of one of them.
        func isKind(_ kinds: Set<String>) -> Bool {
            let type = analysis?.documentType ?? "other"
            if kinds.contains(type) { return true }
            let till: Set<String> = ["receipt", "invoice"]
            guard type == "other" || (till.contains(type) && !kinds.isDisjoint(with: till)) else { return false }
            return DocumentClassifier.mentions(kinds, in: lines.joined(separator: "\n").lowercased())
        }
    }

    /// A question's word stands in a document's word when it begins it ("receipt" in "receipts"), or — five
    /// letters or more, as OCR misreads them — when the document's word is it with one letter wrong, missing or
    /// extra ("bakeries" in "bakerles"), or cut short by at most two letters ("bakeri&s" read as "bakeri").
    static func matches(_ term: String, _ word: String) -> Bool {
        if word.hasPrefix(term) { return true }
        let termLength = term.count, wordLength = word.count
        guard termLength >= 5, wordLength >= 5, abs(termLength - wordLength) <= 2 else { return false }
        if wordLength < termLength, term.hasPrefix(word) { return true }
        return abs(termLength - wordLength) <= 1 && withinOneEdit(Array(term.unicodeScalars), Array(word.unicodeScalars))
    }

    static func withinOneEdit(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Bool {
        var i = 0, j = 0, edits = 0
        while i < a.count, j < b.count {
            if a[i] == b[j] {
                i += 1
                j += 1
                continue
            }
            edits += 1
            if edits > 1 { return false }
            if a.count > b.count { i += 1 } else if b.count > a.count { j += 1 } else { i += 1; j += 1 }
        }
        return edits + (a.count - i) + (b.count - j) <= 1
    }

    /// The two lines holding most of the question's words (`hits`: how many each line holds), in reading order,
    /// and the total's line when the question asks for money; with no words to go by, the total's line (else the first).
    static func bestLines(_ lines: [String], hits: [Int], total: Analysis.Amount?, showTotal: Bool) -> [String] {
        let totalLine = total.flatMap { total in lines.lastIndex { $0.contains(LocalAnalyzer.format(total.value)) } }
        var chosen = hits.indices.filter { hits[$0] > 0 }.sorted { (hits[$0], -$0) > (hits[$1], -$1) }.prefix(2).map { $0 }
        if let totalLine, chosen.isEmpty || showTotal, !chosen.contains(totalLine) { chosen.append(totalLine) }
        if chosen.isEmpty, !lines.isEmpty { chosen = [0] }
        return chosen.sorted().map { clip(lines[$0]) }
    }

    /// The lines around the question's words (one either side), for a model; the start of the text when no
    /// word stands in it.
    static func excerpt(_ lines: [String], hits: [Int]) -> [String] {
        var keep = IndexSet()
        for index in hits.indices where hits[index] > 0 {
            keep.insert(integersIn: max(0, index - 1)...min(lines.count - 1, index + 1))
        }
        if keep.isEmpty { return lines.prefix(excerptLines).map { clip($0) } }
        return keep.prefix(excerptLines).map { clip(lines[$0]) }
    }

    static func clip(_ line: String, to limit: Int = 160) -> String {
        line.count <= limit ? line : String(line.prefix(limit - 1)) + "…"
    }

    static func totals(_ matches: [AskMatch]) -> [AskFindings.Total] {
        var sums: [String: AskFindings.Total] = [:]
        for match in matches {
            guard let total = match.total else { continue }
            let currency = total.currency ?? ""
            var sum = sums[currency] ?? AskFindings.Total(currency: currency, value: 0, documents: 0)
            sum.value += total.value
            sum.documents += 1
            sums[currency] = sum
        }
        return sums.values.sorted { ($0.documents, $1.currency) > ($1.documents, $0.currency) }
    }
}
