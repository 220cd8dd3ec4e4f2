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
    }

    /// Labels that name what a document is for: the amount that reports add up.
    static let totalLabels = ["total due", "amount due", "balance due", "grand total", "total", "net pay", "closing balance", "amount payable", "to pay"]

    /// The document's bottom line (the total, the amount due, the net pay), if it has one.
    public var primaryAmount: Amount? {
        for label in Self.totalLabels {
            if let match = amounts.last(where: { $0.label.lowercased().contains(label) && $0.currency != nil }) { return match }
        }
        return nil
    }

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public func json() throws -> Data { try Self.encoder.encode(self) }

    public static func decode(_ data: Data) throws -> Analysis { try JSONDecoder().decode(Analysis.self, from: data) }
}
