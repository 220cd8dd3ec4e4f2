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
    let database: AppDatabase
    let logger: Logger
    let metrics: any MetricsFactory

    public init(summarizer: (any ReportSummarizer)?, database: AppDatabase, logger: Logger = Logger(label: "report"),
                metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.summarizer = summarizer
        self.database = database
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
        var written: String?
        var summary: String?
        var summaryUsage = StepUsage()
        if let summarizer {
            let documents = jobs.compactMap { details -> SummaryRequest.Document? in
                guard let data = details.output(of: AnalyzePlugin.stepName), let analysis = try? Analysis.decode(data) else { return nil }
                return SummaryRequest.Document(fileName: details.job.sourceName, analysis: analysis)
            }
            if !documents.isEmpty {
                let request = SummaryRequest(title: title, documents: documents, failedCount: jobs.count - documents.count,
                                             languageCode: languageCode ?? jobs.lazy.compactMap(\.job.languageCode).first)
                do {
                    let (text, usage) = try await summarizer.summarize(request)
                    summaryUsage = usage
                    await record(usage, groupID: groupID)
                    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                    summary = trimmed.isEmpty ? "_The model returned no summary._" : String(trimmed.prefix(6000))
                    written = trimmed.isEmpty ? nil : summary
                } catch is CancellationError {
                    summary = nil
                } catch {
                    logger.warning("could not write the executive summary", metadata: ["error": "\(error)"])
                    summary = "_No summary: \(error)._"
                }
            }
        }
        return Composed(markdown: ReportBuilder().markdown(title: title, jobs: jobs, skipped: skipped, executiveSummary: summary, summaryUsage: summaryUsage),
                        summary: written)
    }

    private func record(_ usage: StepUsage, groupID: Int64?) async {
        guard usage.inputTokens + usage.outputTokens > 0 else { return }
        let model = usage.model ?? "unknown"
        Counter(label: "botgateway_llm_tokens_total", dimensions: [("direction", "input"), ("model", model)], factory: metrics).increment(by: usage.inputTokens)
        Counter(label: "botgateway_llm_tokens_total", dimensions: [("direction", "output"), ("model", model)], factory: metrics).increment(by: usage.outputTokens)
        FloatingPointCounter(label: "botgateway_llm_cost_usd_total", dimensions: [("model", model)], factory: metrics).increment(by: usage.costUSD)
        do {
            try await database.recordLLMUsage(purpose: "summary", groupID: groupID, usage: usage)
        } catch {
            logger.error("could not record the summary's usage", metadata: ["error": "\(error)"])
        }
    }
}
