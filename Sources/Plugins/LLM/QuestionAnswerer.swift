import Foundation
import Storage

/// Answers a question from documents handed to it (`/ask` with an LLM analyser).
public protocol QuestionAnswerer: Sendable {
    func answer(_ request: QuestionRequest) async throws -> (String, StepUsage)
}

/// What an LLM analyser writes besides analyses: reports' summaries and answers to questions.
public typealias DocumentWriter = ReportSummarizer & QuestionAnswerer

/// The question and the person's best-matching documents: each with its job code, facts and the lines around
/// the question's words. Nothing else of anyone's goes to the model.
public struct QuestionRequest: Sendable {
    public var question: String
    public var documents: [AskMatch]
    public var languageCode: String?

    public init(question: String, documents: [AskMatch], languageCode: String?) {
        self.question = question
        self.documents = documents
        self.languageCode = languageCode
    }

    public static let maxDocuments = 8

    /// The documents as tagged blocks. Angle brackets inside a document's text or name cannot close its block
    /// (they become ‹ ›): a document's text is data, never the prompt's structure.
    public func prompt(maxCharacters: Int = 24_000) -> String {
        func clean(_ text: String) -> String {
            text.replacingOccurrences(of: "<", with: "‹").replacingOccurrences(of: ">", with: "›").replacingOccurrences(of: "\"", with: "'")
        }
        var blocks: [String] = []
        var used = 0
        for document in documents.prefix(Self.maxDocuments) {
            var attributes = "code=\"\(document.jobCode)\" file=\"\(clean(document.name))\" date=\"\(document.date)\""
            if let type = document.documentType { attributes += " type=\"\(clean(type))\"" }
            if let issuer = document.issuer { attributes += " issuer=\"\(clean(issuer))\"" }
            if let total = document.total {
                attributes += " total=\"\([total.currency, LocalAnalyzer.format(total.value)].compactMap { $0 }.joined(separator: " "))\""
            }
            let block = "<document \(attributes)>\n\(document.excerpt.map(clean).joined(separator: "\n"))\n</document>"
            if used + block.count > maxCharacters, !blocks.isEmpty { break }
            blocks.append(block)
            used += block.count
        }
        var text = "Question: \(question)\n"
        text += AnalysisPrompt.languageInstruction(languageCode, for: "the answer", otherwise: "the language of the question") + "\n"
        text += "\n<documents>\n\(blocks.joined(separator: "\n"))\n</documents>\n"
        return text
    }

    /// The documents' codes the answer cites as `[CODE]`, in the order it cites them; codes not handed to the
    /// model are not believed.
    public func citedCodes(in answer: String) -> [String] {
        let given = Set(documents.prefix(Self.maxDocuments).map(\.jobCode))
        var cited: [String] = []
        var rest = answer[...]
        while let open = rest.firstIndex(of: "[") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "]") else { break }
            for part in after[..<close].split(whereSeparator: { $0 == "," || $0 == " " || $0 == ";" }) {
                let code = JobCode.normalized(String(part))
                if given.contains(code), !cited.contains(code) { cited.append(code) }
            }
            rest = after[after.index(after: close)...]
        }
        return cited
    }
}
