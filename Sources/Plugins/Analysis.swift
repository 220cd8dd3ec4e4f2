import Foundation

/// The analysis of one document (SPEC §6): what the local analyser fills offline and what the
/// LLMs are asked to return. Field names on the wire are snake_case.
public struct Analysis: Codable, Sendable, Equatable {
    public struct KeyFact: Codable, Sendable, Equatable {
        public var label: String
        public var value: String

        public init(label: String, value: String) {
            self.label = label
            self.value = value
        }
    }

    public struct Amount: Codable, Sendable, Equatable {
        public var value: Decimal
        /// ISO 4217 code, or nil when the document names none.
        public var currency: String?
        public var label: String

        public init(value: Decimal, currency: String?, label: String) {
            self.value = value
            self.currency = currency
            self.label = label
        }
    }

    /// One line of a receipt or invoice: what was bought, how many, at what price, for how much.
    public struct LineItem: Codable, Sendable, Equatable {
        public var description: String
        public var quantity: Decimal?
        public var unitPrice: Decimal?
        public var amount: Decimal?

        public init(description: String, quantity: Decimal? = nil, unitPrice: Decimal? = nil, amount: Decimal? = nil) {
            self.description = description
            self.quantity = quantity
            self.unitPrice = unitPrice
            self.amount = amount
        }

        enum CodingKeys: String, CodingKey {
            case description, quantity, amount
            case unitPrice = "unit_price"
        }
    }

    public var documentType: String
    public var title: String
    public var summary: String
    /// ISO 639-1 code, `und` when it could not be told.
    public var language: String
    public var keyFacts: [KeyFact]
    /// ISO 8601 dates (`YYYY-MM-DD`), in the order they appear.
    public var dates: [String]
    public var amounts: [Amount]
    public var parties: [String]
    public var actionItems: [String]
    /// 0…1: how sure the analyser is of the type and fields.
    public var confidence: Double

    // The facts a spreadsheet row needs, each optional (older analyses and terse models leave them out).
    /// The document's own date (issued, sold), `YYYY-MM-DD`.
    public var documentDate: String?
    /// Who issued it: the shop, the company on the letterhead.
    public var issuer: String?
    /// The bottom line: what was or is to be paid.
    public var total: Amount?
    /// The tax in the total (GST, VAT, sales tax), when printed.
    public var tax: Amount?
    /// ISO 4217 code of the document's money, printed or inferred.
    public var currency: String?
    public var lineItems: [LineItem]?
    /// 0…1 per field (`total`, `date`, `issuer`, `currency`, `tax`): how sure the analyser is of each.
    public var fieldConfidence: [String: Double]?

    public init(documentType: String, title: String, summary: String, language: String, keyFacts: [KeyFact], dates: [String],
                amounts: [Amount], parties: [String], actionItems: [String], confidence: Double) {
        self.documentType = documentType
        self.title = title
        self.summary = summary
        self.language = language
        self.keyFacts = keyFacts
        self.dates = dates
        self.amounts = amounts
        self.parties = parties
        self.actionItems = actionItems
        self.confidence = confidence
    }

    enum CodingKeys: String, CodingKey {
        case documentType = "document_type"
        case title, summary, language
        case keyFacts = "key_facts"
        case dates, amounts, parties
        case actionItems = "action_items"
        case confidence
        case documentDate = "document_date"
        case issuer, total, tax, currency
        case lineItems = "line_items"
        case fieldConfidence = "field_confidence"
    }

    /// Labels that name what a document is for: the amount that reports add up.
    static let totalLabels = ["total due", "amount due", "balance due", "grand total", "total", "net pay", "closing balance", "amount payable", "to pay"]
    static let partLabels = ["sub total", "subtotal", "sub-total", "excl", "before", "tax", "vat", "gst", "qty", "quantity"]

    /// The document's bottom line (the total, the amount due, the net pay), if it has one: the analyser's own
    /// choice, else the last amount under the strongest total label. An amount with no currency still counts.
    public var primaryAmount: Amount? {
        if let total { return total }
        for label in Self.totalLabels {
            if let match = amounts.last(where: { amount in
                let lower = amount.label.lowercased()
                return lower.contains(label) && (label != "total" || !Self.partLabels.contains { lower.contains($0) })
            }) { return match }
        }
        return nil
    }

    /// The document's date: the analyser's choice, else the first date on it.
    public var primaryDate: String? { documentDate ?? dates.first }

    /// Who issued the document: the analyser's choice, else the first party named.
    public var primaryIssuer: String? { issuer ?? parties.first }

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public func json() throws -> Data { try Self.encoder.encode(self) }

    public static func decode(_ data: Data) throws -> Analysis { try JSONDecoder().decode(Analysis.self, from: data) }
}
