import Foundation
import Storage

/// The offline analyser: fills the analysis from OCR text alone, with no network and no keys.
/// Type by keywords, dates in any common notation, amounts with currency and label, parties from
/// labelled lines and company names, key facts from "Label: value" lines, and an extractive summary.
public struct LocalAnalyzer: Analyzer {
    public var name: String { "local" }

    /// ISO 4217 code for amounts when the document neither prints nor implies one (`DEFAULT_CURRENCY`).
    public var defaultCurrency: String?

    public init(defaultCurrency: String? = nil) {
        self.defaultCurrency = defaultCurrency
    }

    public func analyze(_ input: AnalysisInput) async throws -> (Analysis, StepUsage) {
        (analyze(text: input.text, ocrConfidence: input.ocr.confidence, received: Date(timeIntervalSince1970: input.document.createdAt)), StepUsage())
    }

    /// Document types whose head names who issued them (a shop, a company), as opposed to letters and notices.
    static let issuedTypes: Set<String> = ["invoice", "receipt", "utility_bill", "bank_statement", "payslip", "delivery_note", "insurance"]

    /// `received`: when the document arrived; a date more than a year after it is an OCR error or a deadline.
    public func analyze(text: String, ocrConfidence: Double = 100, received: Date = Date()) -> Analysis {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let (kind, margin) = DocumentClassifier().classify(text)
        let type = kind?.type ?? "other"
        let label = kind?.label ?? "Document"

        let money = moneyFacts(text)
        let (amounts, lineItems, bottomLine, tax) = (money.amounts, money.lineItems, money.bottomLine, money.tax)

        // Dates: in the document's own order (day first unless its numbers or its country say otherwise).
        let found = DateExtractor(monthFirst: DateExtractor.order(in: text) ?? money.guess.monthFirst).documentDate(in: text, reference: received)
        let dates = found.listed

        var parties = Self.parties(lines)
        let issuer = IssuerFinder().find(in: text).flatMap { found in
            Self.issuedTypes.contains(type) || found.confidence >= 0.75 ? found : nil
        }
        if let issuer {
            parties.removeAll { $0.caseInsensitiveCompare(issuer.name) == .orderedSame }
            parties.insert(issuer.name, at: 0)
        }
        var facts = Self.keyFacts(lines)
        if let registration = issuer?.registration, !facts.contains(where: { $0.value.contains(registration) }) {
            facts.insert(Analysis.KeyFact(label: "Registration No", value: registration), at: 0)
        }

        let title = Self.title(label: label, type: type, facts: facts, party: parties.first, date: found.date)
        var summary = [label]
        if let party = parties.first { summary.append(type == "letter" ? "to \(party)" : "from \(party)") }
        if let date = found.date ?? dates.first { summary.append("dated \(date)") }
        var sentence = summary.joined(separator: " ")
        var analysis = Analysis(documentType: type, title: title, summary: "", language: Self.language(text), keyFacts: Array(facts.prefix(15)),
                                dates: dates, amounts: amounts, parties: Array(parties.prefix(8)), actionItems: Self.actionItems(lines), confidence: 0)
        analysis.total = money.total
        if let bottom = analysis.primaryAmount {
            sentence += "; \(bottom.label.lowercased()) \(bottom.currency.map { $0 + " " } ?? "")\(Self.format(bottom.value))"
        }
        sentence += "."
        if let body = Self.firstSentence(lines) { sentence += " " + body }
        analysis.summary = sentence

        let confidence = min(1, max(0.05, (kind == nil ? 0.2 : 0.45 + 0.4 * margin) * (ocrConfidence / 100) + (dates.isEmpty ? 0 : 0.05) + (amounts.isEmpty ? 0 : 0.05)))
        analysis.confidence = (confidence * 100).rounded() / 100
        analysis.documentDate = found.date
        analysis.issuer = issuer?.name
        analysis.tax = tax
        analysis.currency = money.guess.document?.code
        analysis.lineItems = lineItems.isEmpty ? nil : lineItems
        var fields: [String: Double] = [:]
        let reading = min(1, max(0.3, ocrConfidence / 100))
        func round(_ value: Double) -> Double { (value * reading * 100).rounded() / 100 }
        if let bottomLine { fields["total"] = round(bottomLine.confidence) }
        if found.date != nil { fields["date"] = round(found.confidence) }
        if let issuer { fields["issuer"] = round(issuer.confidence) }
        if let currency = money.guess.document { fields["currency"] = round(currency.confidence) }
        if tax != nil { fields["tax"] = round(0.7) }
        analysis.fieldConfidence = fields.isEmpty ? nil : fields
        return analysis
    }

    /// The money facts: every mention with its role, the amounts worth listing, the line items, the bottom line
    /// and its tax, the document's currency.
    struct MoneyFacts {
        var guess: CurrencyGuess
        var amounts: [Analysis.Amount] = []
        var lineItems: [Analysis.LineItem]
        var bottomLine: TotalFinder.Result?

        var total: Analysis.Amount? {
            bottomLine.map { Analysis.Amount(value: $0.total, currency: guess.currency(of: $0.currency), label: $0.label) }
        }

        var tax: Analysis.Amount? {
            bottomLine?.tax.map { Analysis.Amount(value: $0.value, currency: guess.currency(of: nil), label: $0.label) }
        }
    }

    func moneyFacts(_ text: String) -> MoneyFacts {
        let moneyLines = MoneyText.lines(text)
        let mentions = AmountExtractor().mentions(in: moneyLines)
        let guess = CurrencyGuess(text: text, printed: mentions.filter { $0.value != 0 }.compactMap(\.currency), fallback: defaultCurrency)
        let (lineItems, itemsCheck) = LineItemExtractor().extract(lines: moneyLines, mentions: mentions)
        let bottomLine = TotalFinder().find(mentions, lineItems: lineItems.compactMap(\.amount), itemsCheck: itemsCheck)
        var facts = MoneyFacts(guess: guess, lineItems: lineItems, bottomLine: bottomLine)
        for mention in mentions where mention.role.isSummary || (mention.currency != nil && mention.onLine == 1 && mention.label.hasSuffix(":")) {
            let amount = Analysis.Amount(value: mention.value, currency: guess.currency(of: mention.currency), label: mention.label)
            if !facts.amounts.contains(amount) { facts.amounts.append(amount) }
        }
        return facts
    }

    /// "Invoice 2024-117 from ACME GmbH", "Letter to Jane Doe", "Receipt of 2024-03-14".
    static func title(label: String, type: String, facts: [Analysis.KeyFact], party: String?, date: String?) -> String {
        var title = label
        if let reference = facts.first(where: { isReference($0.label) }) {
            title += " \(reference.value)"
        }
        if let party {
            title += (type == "letter" ? " to " : " from ") + party
        } else if let date {
            title += " of \(date)"
        }
        return title
    }

    // MARK: Parties

    static let partyLabels = ["bill to", "billed to", "customer", "client", "employer", "employee", "recipient", "insured", "insurer",
                              "account holder", "from", "to", "landlord", "tenant", "seller", "buyer", "supplier", "vendor", "signed", "payee", "sold to", "ship to"]
    static let companySuffix = try! NSRegularExpression(pattern:
        #"\b((?:[A-Z][\w&'’.-]*\s+){0,5}(?:Ltd\.?|Limited|Inc\.?|LLC|L\.L\.C\.|GmbH|AG|SA|S\.A\.|SARL|plc|PLC|Corp\.?|Corporation|Co\.|Company|Bank|Insurance|Logistics|Properties|Software|Bakery|Cafe|CAFE|Light|Group|BV|B\.V\.|Oy|AB))(?![\w])"#)

    static func parties(_ lines: [String]) -> [String] {
        var found: [String] = []
        func add(_ raw: String) {
            var name = raw.trimmingCharacters(in: CharacterSet(charactersIn: " ,;:()")).replacingOccurrences(of: "  ", with: " ")
            // A full stop ends the sentence, unless it ends an abbreviation ("Ltd.", "Inc.", "Mr.").
            if name.hasSuffix("."), let last = name.split(separator: " ").last?.dropLast().lowercased(), !Self.abbreviations.contains(last) {
                name.removeLast()
            }
            if name.hasSuffix(" (the Landlord") || name.hasSuffix(" (the Tenant") { name = String(name.split(separator: "(").first ?? "") }
            name = name.trimmingCharacters(in: .whitespaces)
            guard name.count >= 3, name.count <= 60, name.rangeOfCharacter(from: .letters) != nil,
                  !found.contains(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) else { return }
            found.append(name)
        }
        // An organisation's name usually heads its documents.
        if let first = lines.first, Self.looksLikeName(first) { add(first) }
        for line in lines {
            let lower = line.lowercased()
            for label in partyLabels where lower.hasPrefix(label + ":") || lower.hasPrefix(label + " :") {
                let value = line[line.index(line.startIndex, offsetBy: label.count)...].drop { $0 == ":" || $0 == " " }
                add(String(value.split(separator: ",").first ?? ""))
            }
            if lower.hasPrefix("dear ") {
                add(String(line.dropFirst(5)).trimmingCharacters(in: CharacterSet(charactersIn: ",")))
            }
            let ns = line as NSString
            for match in companySuffix.matches(in: line, range: NSRange(location: 0, length: ns.length)) {
                add(ns.substring(with: match.range(at: 1)))
            }
        }
        // A letter's sender signs after the closing.
        if let closing = lines.lastIndex(where: { ["yours sincerely", "sincerely", "kind regards", "best regards", "yours faithfully"].contains($0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ","))) }),
           closing + 1 < lines.count {
            add(lines[closing + 1])
        }
        return Array(found.prefix(8))
    }

    static let abbreviations: Set<String> = ["ltd", "inc", "co", "corp", "jr", "sr", "st", "mr", "mrs", "ms", "dr", "prof", "s.a", "l.l.c", "b.v", "n.v"]

    static func looksLikeName(_ line: String) -> Bool {
        let words = line.split(separator: " ")
        guard (1...6).contains(words.count), line.rangeOfCharacter(from: .decimalDigits) == nil, !line.contains(":") else { return false }
        let generic: Set<String> = ["invoice", "receipt", "payslip", "delivery note", "rental agreement", "certificate of insurance",
                                    "account statement", "electricity bill", "library notice", "notice", "statement"]
        guard !generic.contains(line.lowercased()) else { return false }
        return words.allSatisfy { $0.first?.isUppercase == true || ["and", "of", "&", "the", "for"].contains($0.lowercased()) }
    }

    // MARK: Facts, actions, language

    static func keyFacts(_ lines: [String]) -> [Analysis.KeyFact] {
        var facts: [Analysis.KeyFact] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let label = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            let words = label.split(separator: " ").count
            // "12:41" is a time, not a label; labels are short and start with a letter.
            guard (1...5).contains(words), label.first?.isLetter == true, !value.isEmpty, value.count <= 120 else { continue }
            facts.append(Analysis.KeyFact(label: label, value: value))
        }
        return Array(facts.prefix(15))
    }

    static func isReference(_ label: String) -> Bool {
        let lower = label.lowercased()
        return ["invoice no", "invoice number", "order number", "policy number", "receipt no", "reference", "ref"].contains { lower.hasPrefix($0) }
    }

    static let actionWords = ["please", "pay by", "payable by", "must", "required", "is due", "due back", "due on", "return", "sign and", "deadline", "within"]

    static func actionItems(_ lines: [String]) -> [String] {
        Array(lines.filter { line in
            let lower = line.lowercased()
            return actionWords.contains { lower.contains($0) } && line.count >= 12
        }.uniqued().prefix(5))
    }

    static func firstSentence(_ lines: [String]) -> String? {
        // The first line that reads as prose: several words, mostly letters, not a "Label: value" line.
        for line in lines where line.split(separator: " ").count >= 6 && !line.contains(":") {
            let letters = line.filter(\.isLetter).count
            if Double(letters) / Double(line.count) > 0.6 {
                return line.hasSuffix(".") ? line : line + "…"
            }
        }
        return nil
    }

    /// Function words plus the vocabulary of paperwork, which carries the language of terse documents.
    static let stopwords: [String: Set<String>] = [
        "en": ["the", "and", "of", "to", "is", "for", "you", "your", "with", "on", "by", "at", "please", "thank",
               "date", "amount", "number", "account", "balance", "pay", "tax", "due", "customer", "gross", "net", "employee", "employer"],
        "de": ["der", "die", "das", "und", "ist", "für", "sie", "mit", "von", "bitte", "zu", "den", "ihre", "wir",
               "datum", "betrag", "summe", "nummer", "konto", "steuer", "rechnung", "kunde", "brutto", "netto"],
        "fr": ["le", "la", "les", "et", "est", "pour", "vous", "avec", "de", "des", "du", "votre", "merci", "une",
               "montant", "numéro", "compte", "facture", "client", "solde", "payer"],
        "es": ["el", "la", "los", "y", "es", "para", "usted", "con", "de", "del", "por", "su", "gracias", "una",
               "fecha", "importe", "número", "cuenta", "factura", "cliente", "saldo"],
        "it": ["il", "la", "gli", "e", "è", "per", "con", "di", "del", "della", "grazie", "una", "che", "sono"],
        "nl": ["de", "het", "een", "en", "is", "voor", "met", "van", "u", "uw", "bedankt", "wij", "zijn", "niet"],
    ]

    static func language(_ text: String) -> String {
        let words = text.lowercased().split { !$0.isLetter }.map(String.init)
        var best = ("und", 0)
        for (code, list) in stopwords {
            let hits = words.filter { list.contains($0) }.count
            if hits > best.1 { best = (code, hits) }
        }
        return best.1 >= 2 ? best.0 : "und"
    }

    public static func format(_ value: Decimal) -> String {
        var value = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &value, 2, .plain)
        return String(format: "%.2f", NSDecimalNumber(decimal: rounded).doubleValue)
    }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
