import CoreMetrics
import Foundation
import Logging
import Storage

/// Writes a group's consolidated report: the deterministic sections from `ReportBuilder`, and — with an
/// LLM analyser configured — an executive summary the model writes from the per-document analyses. A
/// summary that cannot be had leaves a note, never a missing report. The summary call's tokens and cost
/// are stored like a step's and counted in `/metrics`.
public struct ReportComposer: Sendable {
    let summarizer: (any ReportSummarizer)?
    let usage: any UsageLedger
    let logger: Logger
    let metrics: any MetricsFactory

    public init(summarizer: (any ReportSummarizer)?, usage: any UsageLedger, logger: Logger = Logger(label: "report"),
                metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.summarizer = summarizer
        self.usage = usage
        self.logger = logger
        self.metrics = metrics
    }

    public struct Composed: Sendable {
        public var markdown: String
        /// The model's executive summary (Markdown), when one was written.
        public var summary: String?
    }

    public func markdown(title: String, jobs: [JobDetails], skipped: [ReportBuilder.Skipped] = [], groupID: Int64? = nil,
                         languageCode: String? = nil) async -> String {
        await compose(title: title, jobs: jobs, skipped: skipped, groupID: groupID, languageCode: languageCode).markdown
    }

    public func compose(title: String, jobs: [JobDetails], skipped: [ReportBuilder.Skipped] = [], groupID: Int64? = nil,
                        languageCode: String? = nil) async -> Composed {
        let summary = await executiveSummary(title: title, jobs: jobs, groupID: groupID, languageCode: languageCode)
        let markdown = ReportBuilder().markdown(title: title, jobs: jobs, skipped: skipped, executiveSummary: summary.section, summaryUsage: summary.usage)
        return Composed(markdown: markdown, summary: summary.text)
    }

    /// The report's summary section — the model's text, or a note saying why there is none — what it cost,
    /// and the text alone when the model wrote one.
    private func executiveSummary(title: String, jobs: [JobDetails], groupID: Int64?, languageCode: String?) async
        -> (section: String?, usage: StepUsage, text: String?) {
        guard let summarizer else { return (nil, StepUsage(), nil) }
        let documents = jobs.compactMap { details -> SummaryRequest.Document? in
            guard let analysis = details.analysis else { return nil }
            return SummaryRequest.Document(fileName: details.job.sourceName, analysis: analysis)
        }
        guard !documents.isEmpty else { return (nil, StepUsage(), nil) }
        let request = SummaryRequest(title: title, documents: documents, failedCount: jobs.count - documents.count,
                                     languageCode: languageCode ?? jobs.lazy.compactMap(\.job.languageCode).first)
        do {
            let (raw, usage) = try await summarizer.summarize(request)
            await record(usage, groupID: groupID)
            let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { return ("_The model returned no summary._", usage, nil) }
            let kept = String(text.prefix(6000))
            return (kept, usage, kept)
        } catch is CancellationError {
            return (nil, StepUsage(), nil)
        } catch {
            logger.warning("could not write the executive summary", metadata: ["error": "\(error)"])
            return ("_No summary: \(error)._", StepUsage(), nil)
        }
    }

    private func record(_ usage: StepUsage, groupID: Int64?) async {
        guard usage.inputTokens + usage.outputTokens > 0 else { return }
        usage.record(to: metrics)
        do {
            try await self.usage.recordLLMUsage(purpose: "summary", groupID: groupID, usage: usage)
        } catch {
            logger.error("could not record the summary's usage", metadata: ["error": "\(error)"])
        }
    }
}
