import Foundation
import Storage

/// Writes the executive summary of a consolidated report from its documents' analyses.
public protocol ReportSummarizer: Sendable {
    func summarize(_ request: SummaryRequest) async throws -> (String, StepUsage)
}

public struct SummaryRequest: Sendable {
    public struct Document: Sendable {
        public var fileName: String
        public var analysis: Analysis
    }

    public var title: String
    public var documents: [Document]
    public var failedCount: Int
    public var languageCode: String?

    /// The analyses as compact JSON, the fields a summary needs (the per-document sections carry the rest).
    func prompt(maxCharacters: Int = 60_000) -> String {
        var items: [[String: Any]] = []
        for document in documents {
            let analysis = document.analysis
            var item: [String: Any] = [
                "file": document.fileName, "type": analysis.documentType, "title": analysis.title, "summary": analysis.summary,
                "dates": analysis.dates, "parties": Array(analysis.parties.prefix(4)), "action_items": analysis.actionItems,
            ]
            if let total = analysis.primaryAmount {
                item["total"] = ["value": NSDecimalNumber(decimal: total.value).doubleValue, "currency": total.currency ?? "", "label": total.label]
            }
            items.append(item)
        }
        var json = (try? JSONSerialization.data(withJSONObject: items, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        if json.count > maxCharacters { json = String(json.prefix(maxCharacters)) + " …(cut)" }
        var text = "Report: \(title)\nDocuments analysed: \(documents.count)"
        if failedCount > 0 { text += "; \(failedCount) could not be analysed" }
        text += "\n" + AnalysisPrompt.languageInstruction(languageCode, for: "the summary")
        text += "\n\nAnalyses:\n<analyses>\n\(json)\n</analyses>\n"
        return text
    }
}
