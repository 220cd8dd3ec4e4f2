import Foundation
import OCR
import Storage

/// The consolidated Markdown report of a group (SPEC §6): an overview — counts by type, date range,
/// totals by currency, failures, cost — then a section per document.
public struct ReportBuilder: Sendable {
    /// A file that was not taken in, and why.
    public struct Skipped: Sendable, Equatable {
        public var name: String
        public var reason: String

        public init(name: String, reason: String) {
            self.name = name
            self.reason = reason
        }
    }

    struct Entry {
        var details: JobDetails
        var analysis: Analysis?
        var ocr: OCRResult?
    }

    public init() {}

    /// `summaryUsage` is what writing `executiveSummary` cost; it joins the documents' usage in the overview.
    public func markdown(title: String, jobs: [JobDetails], skipped: [Skipped] = [], executiveSummary: String? = nil,
                         summaryUsage: StepUsage = StepUsage(), generatedAt: Date = Date()) -> String {
        let entries = jobs.map { Entry(details: $0, analysis: $0.analysis, ocr: $0.ocr) }
        var out = "# \(Self.inline(title))\n\n"
        out += "Generated \(generatedAt.formatted(.iso8601)) by BotGateway.\n\n"
        out += "## Overview\n\n"
        // A document with an analysis counts as analysed even while a deferrable step (archiving) retries.
        let done = entries.filter { $0.analysis != nil }.count
        let failed = entries.filter { $0.details.job.state == .failed && $0.analysis == nil }
        let pending = entries.count - done - failed.count
        out += "- Documents: \(entries.count) (\(done) analysed, \(failed.count) failed"
        out += pending > 0 ? ", \(pending) not finished" : ""
        out += skipped.isEmpty ? ")\n" : "; \(skipped.count) \(skipped.count == 1 ? "file" : "files") skipped)\n"
        let archiving = entries.filter { entry in entry.analysis != nil && entry.details.job.state != .done }
        if !archiving.isEmpty {
            out += "- Archive: \(archiving.count) not yet in the bucket (retried later)\n"
        }

        let analyses = entries.compactMap(\.analysis)
        let dates = analyses.flatMap(\.dates).sorted()
        if let first = dates.first, let last = dates.last {
            out += "- Date range: \(first == last ? first : "\(first) to \(last)")\n"
        }
        out += Self.usageLine(jobs.reduce(summaryUsage) { $0 + $1.usage }, summary: summaryUsage)
        if let executiveSummary, !executiveSummary.isEmpty {
            out += "\n### Summary\n\n\(executiveSummary.trimmingCharacters(in: .whitespacesAndNewlines))\n"
        }

        out += Self.byType(analyses)
        out += Self.totalsByCurrency(analyses)
        out += Self.failures(failed.map(\.details.job), skipped: skipped)
        out += "\n## Documents\n"
        for (index, entry) in entries.enumerated() {
            out += "\n" + section(index + 1, entry)
        }
        return out
    }

    private static func usageLine(_ usage: StepUsage, summary summaryUsage: StepUsage) -> String {
        guard usage.inputTokens + usage.outputTokens > 0 else { return "" }
        var out = String(format: "- LLM usage: %d input and %d output tokens, estimated cost $%.4f", usage.inputTokens, usage.outputTokens, usage.costUSD)
        if summaryUsage.inputTokens + summaryUsage.outputTokens > 0 {
            out += String(format: " (summary: $%.4f)", summaryUsage.costUSD)
        }
        return out + "\n"
    }

    private static func byType(_ analyses: [Analysis]) -> String {
        guard !analyses.isEmpty else { return "" }
        var out = "\n### By type\n\n| type | documents |\n|---|---|\n"
        var counts: [String: Int] = [:]
        for analysis in analyses { counts[analysis.documentType, default: 0] += 1 }
        for (type, count) in counts.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
            out += "| \(cell(type)) | \(count) |\n"
        }
        return out
    }

    /// Each document's bottom line (its total, amount due, net pay), added up per currency.
    private static func totalsByCurrency(_ analyses: [Analysis]) -> String {
        var totals: [String: (Decimal, Int)] = [:]
        for analysis in analyses {
            if let amount = analysis.primaryAmount {
                // An amount whose currency nobody could tell still counts, in its own row.
                let currency = amount.currency ?? "unknown"
                let current = totals[currency] ?? (0, 0)
                totals[currency] = (current.0 + amount.value, current.1 + 1)
            }
        }
        guard !totals.isEmpty else { return "" }
        var out = "\n### Totals by currency\n\nEach document's total (amount due, net pay, closing balance) added up.\n\n"
        out += "| currency | total | documents |\n|---|---:|---:|\n"
        for (currency, total) in totals.sorted(by: { $0.key < $1.key }) {
            out += "| \(currency) | \(LocalAnalyzer.format(total.0)) | \(total.1) |\n"
        }
        return out
    }

    private static func failures(_ failed: [JobRecord], skipped: [Skipped]) -> String {
        guard !failed.isEmpty || !skipped.isEmpty else { return "" }
        var out = "\n### Failures\n\n"
        for job in failed {
            out += "- \(inline(job.sourceName)) (job \(job.code)): \(inline(job.lastError ?? "failed"))\n"
        }
        for item in skipped {
            out += "- \(inline(item.name)): skipped, \(inline(item.reason))\n"
        }
        return out
    }

    private func section(_ number: Int, _ entry: Entry) -> String {
        let job = entry.details.job
        guard let analysis = entry.analysis else {
            var out = "### \(number). \(Self.inline(job.sourceName))\n\n"
            out += "- Job: \(job.code), \(job.state.rawValue)\n"
            if let error = job.lastError { out += "- Problem: \(Self.inline(error))\n" }
            // Read but not analysed (the analysis service refused, the model's answer was unusable): the text still counts.
            if let text = entry.ocr?.text.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
                let excerpt = text.count > 4000 ? String(text.prefix(4000)) + "\n…" : text
                out += "\nOCR text:\n\n" + excerpt.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n") + "\n"
            }
            return out
        }
        var out = "### \(number). \(Self.inline(analysis.title))\n\n"
        out += "- File: \(Self.inline(job.sourceName)) (job \(job.code))\n"
        out += "- Type: \(analysis.documentType); language: \(analysis.language); confidence: \(String(format: "%.2f", analysis.confidence))\n"
        if let ocr = entry.ocr {
            out += "- Pages: \(ocr.pages.count); OCR confidence: \(String(format: "%.0f", ocr.confidence))\n"
        }
        let usage = entry.details.usage
        if usage.inputTokens + usage.outputTokens > 0 {
            out += String(format: "- LLM: %@, %d + %d tokens, $%.4f\n", usage.model ?? "model", usage.inputTokens, usage.outputTokens, usage.costUSD)
        }
        out += "\n\(Self.inline(analysis.summary))\n"
        var facts: [String] = []
        if let issuer = analysis.issuer { facts.append("**Issuer:** \(Self.inline(issuer))") }
        if let date = analysis.documentDate { facts.append("**Date:** \(date)") }
        if let total = analysis.total {
            var text = "**Total:** \(total.currency.map { $0 + " " } ?? "")\(LocalAnalyzer.format(total.value))"
            if let tax = analysis.tax { text += " (tax \(LocalAnalyzer.format(tax.value)))" }
            facts.append(text)
        }
        if !facts.isEmpty { out += "\n" + facts.joined(separator: "; ") + "\n" }
        if !analysis.dates.isEmpty { out += "\n**Dates:** \(analysis.dates.joined(separator: ", "))\n" }
        if !analysis.parties.isEmpty { out += "\n**Parties:** \(analysis.parties.map(Self.inline).joined(separator: "; "))\n" }
        if !analysis.amounts.isEmpty {
            out += "\n| amount | currency | label |\n|---:|---|---|\n"
            for amount in analysis.amounts.prefix(30) {
                out += "| \(LocalAnalyzer.format(amount.value)) | \(amount.currency ?? "") | \(Self.cell(amount.label)) |\n"
            }
        }
        if !analysis.keyFacts.isEmpty {
            out += "\n**Key facts:**\n\n"
            for fact in analysis.keyFacts { out += "- \(Self.inline(fact.label)): \(Self.inline(fact.value))\n" }
        }
        if !analysis.actionItems.isEmpty {
            out += "\n**To do:**\n\n"
            for item in analysis.actionItems { out += "- \(Self.inline(item))\n" }
        }
        return out
    }

    /// Text from documents and file names is data, not Markdown: neutralise what would change the layout.
    static func inline(_ text: String) -> String {
        var escaped = ""
        for character in text.replacingOccurrences(of: "\n", with: " ") {
            if "\\`*[]<>#|".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    static func cell(_ text: String) -> String { inline(text) }
}
