import Foundation

/// SPEC §6's analysis as a JSON Schema (strict-mode compatible: every property required, no extra ones)
/// and the check every model answer passes before it is stored.
public enum AnalysisSchema {
    public static let toolName = "record_analysis"

    public static let documentTypes = [
        "invoice", "receipt", "bank_statement", "utility_bill", "payslip", "contract", "delivery_note", "insurance",
        "letter", "notice", "certificate", "tax_document", "medical", "identity_document", "form", "other",
    ]

    static func object(_ properties: [String: Any]) -> [String: Any] {
        ["type": "object", "properties": properties, "required": properties.keys.sorted(), "additionalProperties": false]
    }

    static func array(_ items: [String: Any], _ description: String) -> [String: Any] {
        ["type": "array", "items": items, "description": description]
    }

    /// A fresh dictionary each time: `[String: Any]` is not Sendable, so it is never stored.
    public static func jsonSchema() -> [String: Any] {
        let string: [String: Any] = ["type": "string"]
        let money = object([
            "value": ["type": "number", "description": "Plain number, e.g. 1234.5"],
            "currency": ["type": ["string", "null"], "description": "ISO 4217 code, null when not shown"],
            "label": ["type": "string", "description": "The amount's label as printed"],
        ])
        return object([
            "document_type": ["type": "string", "enum": documentTypes],
            "title": ["type": "string", "description": "Short and specific title"],
            "summary": ["type": "string", "description": "Two to four sentences"],
            "language": ["type": "string", "description": "ISO 639-1 code of the document's language"],
            "key_facts": array(object(["label": string, "value": string]), "Labelled facts (reference numbers, periods, due dates)"),
            "dates": array(["type": "string", "description": "YYYY-MM-DD"], "Every date on the document, in order"),
            "amounts": array(object([
                "value": ["type": "number", "description": "Plain number, e.g. 1234.5"],
                "currency": ["type": ["string", "null"], "description": "ISO 4217 code, null when not shown"],
                "label": ["type": "string", "description": "The amount's label as printed"],
            ]), "Every amount of money"),
            "parties": array(string, "People and organisations, issuer first"),
            "action_items": array(string, "What the recipient has to do"),
            "confidence": ["type": "number", "description": "0 to 1"],
            "document_date": ["type": ["string", "null"], "description": "The document's own date (issued, sold), YYYY-MM-DD"],
            "issuer": ["type": ["string", "null"], "description": "Who issued it: the shop or company at its head"],
            "total": ["anyOf": [money, ["type": "null"]], "description": "The bottom line: what was or is to be paid"],
            "tax": ["anyOf": [money, ["type": "null"]], "description": "The tax in the total (GST, VAT, sales tax)"],
            "currency": ["type": ["string", "null"], "description": "ISO 4217 code of the document's money"],
            "line_items": array(object([
                "description": string,
                "quantity": ["type": ["number", "null"]],
                "unit_price": ["type": ["number", "null"]],
                "amount": ["type": ["number", "null"]],
            ]), "What was bought or billed, one entry per line; not the totals"),
            "field_confidence": object([
                "total": ["type": "number"], "date": ["type": "number"], "issuer": ["type": "number"],
                "currency": ["type": "number"], "tax": ["type": "number"],
            ]),
        ])
    }

    /// Why a model's answer was not accepted.
    public struct Rejection: Error, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// The analysis from a model's answer: a JSON object (a tool's input), or text holding one (JSON mode;
    /// small models wrap it in a code fence or prose). Fields are checked and tidied; a missing or wrongly
    /// typed field rejects the answer.
    public static func validate(text: String) throws(Rejection) -> Analysis {
        guard let start = text.firstIndex(of: "{"), let end = text.lastIndex(of: "}"), start < end else {
            throw Rejection(reason: text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? "the answer was empty" : "the answer held no JSON object")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text[start...end].utf8)) else {
            throw Rejection(reason: "the answer was not valid JSON")
        }
        return try validate(object: object)
    }

    public static func validate(object: Any) throws(Rejection) -> Analysis {
        guard let dictionary = object as? [String: Any] else { throw Rejection(reason: "the answer was not a JSON object") }
        var analysis: Analysis
        do {
            analysis = try JSONDecoder().decode(Analysis.self, from: JSONSerialization.data(withJSONObject: dictionary))
        } catch let error as DecodingError {
            throw Rejection(reason: describe(error))
        } catch {
            throw Rejection(reason: "the answer could not be read: \(error)")
        }
        func clean(_ text: String) -> String { text.trimmingCharacters(in: .whitespacesAndNewlines) }
        analysis.title = clean(analysis.title)
        analysis.summary = clean(analysis.summary)
        guard !analysis.title.isEmpty else { throw Rejection(reason: "the title was empty") }
        guard !analysis.summary.isEmpty else { throw Rejection(reason: "the summary was empty") }
        let type = clean(analysis.documentType).lowercased().replacingOccurrences(of: " ", with: "_")
        analysis.documentType = documentTypes.contains(type) ? type : "other"
        let language = clean(analysis.language).lowercased().split(separator: "-").first.map(String.init) ?? ""
        analysis.language = (2...3).contains(language.count) && language.allSatisfy({ $0.isASCII && $0.isLetter }) ? language : "und"
        analysis.keyFacts = analysis.keyFacts.map { Analysis.KeyFact(label: clean($0.label), value: clean($0.value)) }
            .filter { !$0.label.isEmpty && !$0.value.isEmpty }
        analysis.dates = analysis.dates.map(clean).filter(isCalendarDate)
        func tidy(_ amount: Analysis.Amount) -> Analysis.Amount {
            let code = amount.currency.map(clean)?.uppercased()
            let currency = code.flatMap { $0.count == 3 && $0.allSatisfy({ $0.isASCII && $0.isUppercase }) ? $0 : nil }
            return Analysis.Amount(value: amount.value, currency: currency, label: clean(amount.label))
        }
        analysis.total = analysis.total.map(tidy)
        analysis.tax = analysis.tax.map(tidy)
        analysis.currency = analysis.currency.map(clean)?.uppercased()
        if let code = analysis.currency, code.count != 3 || !code.allSatisfy({ $0.isASCII && $0.isUppercase }) { analysis.currency = nil }
        if let date = analysis.documentDate.map(clean), !isCalendarDate(date) { analysis.documentDate = nil }
        analysis.issuer = analysis.issuer.map(clean).flatMap { $0.isEmpty ? nil : $0 }
        analysis.lineItems = analysis.lineItems?.map { Analysis.LineItem(description: clean($0.description), quantity: $0.quantity, unitPrice: $0.unitPrice, amount: $0.amount) }
            .filter { !$0.description.isEmpty }
        analysis.fieldConfidence = analysis.fieldConfidence?.mapValues { min(1, max(0, $0.isFinite ? $0 : 0)) }
        analysis.amounts = analysis.amounts.map(tidy)
        analysis.parties = unique(analysis.parties.map(clean))
        analysis.actionItems = unique(analysis.actionItems.map(clean))
        // Some models answer in percent.
        var confidence = analysis.confidence.isFinite ? analysis.confidence : 0
        if confidence > 1 && confidence <= 100 { confidence /= 100 }
        analysis.confidence = min(1, max(0, confidence))
        return analysis
    }

    static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { !$0.isEmpty && seen.insert($0.lowercased()).inserted }
    }

    static func isCalendarDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-")
        guard text.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1000...9999).contains(year), (1...12).contains(month), day >= 1 else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
              let days = calendar.range(of: .day, in: .month, for: date) else { return false }
        return days.contains(day)
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context, _ key: CodingKey? = nil) -> String {
            let keys = context.codingPath + (key.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "the answer had no '\(path(context, key))'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "'\(path(context))' in the answer had the wrong type"
        case .dataCorrupted(let context): return "the answer was malformed at '\(path(context))'"
        @unknown default: return "the answer did not match the schema"
        }
    }
}
