import Foundation
import Plugins
import Storage
import UseCases

/// What the dashboard's templates show, already formatted: plain strings (Mustache escapes them) and the few
/// pieces of markup built here from numbers or from text escaped here first.
enum DashboardViews {
    struct NavItem {
        var href: String
        var label: String
        var current: Bool
    }

    /// Every page: the frame around its `body`.
    struct Page<Body> {
        var title: String
        var signedIn: Bool
        var csrf: String
        var nav: [NavItem]
        var notice: String?
        var paused: Bool
        var body: Body
    }

    static let sections: [(href: String, label: String)] = [
        ("/admin", "Overview"), ("/admin/jobs", "Jobs"), ("/admin/documents", "Documents"), ("/admin/costs", "Costs"), ("/admin/users", "Users"),
    ]

    static func navigation(current: String?) -> [NavItem] {
        sections.map { NavItem(href: $0.href, label: $0.label, current: $0.href == current) }
    }

    struct Option {
        var value: String
        var label: String
        var selected: Bool
    }

    static func options(_ choices: [(String, String)], selected: String?) -> [Option] {
        choices.map { Option(value: $0.0, label: $0.1, selected: $0.0 == (selected ?? "")) }
    }

    struct Hidden {
        var name: String
        var value: String
    }

    // MARK: Overview

    struct Overview {
        var queued: Int
        var running: Int
        var failureRate: String
        var finishedLastDay: Int
        var spendToday: String
        var spendMonth: String
        var ocrBusy: Int
        var undelivered: Int
        var freeDisk: String
        var paused: Bool
        var csrf: String
        var queue: [QueueDepth]
        var hourChart: String
        var dayChart: String
    }

    static func overview(_ figures: DashboardOverview, ocrWaiting: Int, freeBytes: Int64?, csrf: String, now: Timestamp) -> Overview {
        let hourLabels = (0..<DashboardBuckets.hours).map { index -> String in
            let start = DashboardBuckets.hourStart(now: now) + Double(index) * 3600
            return String(format: "%02d", Int(start.truncatingRemainder(dividingBy: 86400) / 3600))
        }
        let dayLabels = (0..<DashboardBuckets.days).map { index -> String in
            String(day(DashboardBuckets.dayStart(now: now) + Double(index) * 86400).suffix(5))
        }
        let rate = figures.finishedLastDay == 0 ? "0 %" : String(format: "%.1f %%", Double(figures.failedLastDay) * 100 / Double(figures.finishedLastDay))
        return Overview(
            queued: figures.queue.reduce(0) { $0 + $1.queued }, running: figures.queue.reduce(0) { $0 + $1.running },
            failureRate: rate, finishedLastDay: figures.finishedLastDay, spendToday: money(figures.spendTodayUSD),
            spendMonth: money(figures.spendThisMonthUSD), ocrBusy: ocrWaiting, undelivered: figures.undeliveredReplies,
            freeDisk: freeBytes.map(bytes) ?? "unknown", paused: figures.paused, csrf: csrf, queue: figures.queue,
            hourChart: BarChart.svg(values: figures.perHour.map(Double.init), labels: hourLabels, title: "Documents per hour, last 24 hours", every: 3),
            dayChart: BarChart.svg(values: figures.perDay.map(Double.init), labels: dayLabels, title: "Documents per day, last 30 days", every: 5))
    }

    // MARK: Jobs

    struct JobLine {
        var code: String
        var name: String
        var origin: String
        var state: String
        var step: String
        var attempts: Int
        var created: String
        var cost: String
        var error: String
    }

    struct Jobs {
        var states: [Option]
        var origins: [Option]
        var steps: [Option]
        var user: String
        var from: String
        var to: String
        var total: Int
        var csrf: String
        var hidden: [Hidden]
        var rows: [JobLine]
        var nextPage: String?
    }

    static func jobLine(_ row: JobRow) -> JobLine {
        JobLine(code: row.job.code, name: row.job.sourceName, origin: row.job.origin.rawValue, state: row.job.state.rawValue, step: row.step ?? "",
                attempts: row.attempts, created: time(row.job.createdAt), cost: money(row.costUSD),
                error: row.job.lastError.map { clipped($0, 160) } ?? "")
    }

    struct Confirm {
        var question: String
        var button: String
        var action: String
        var count: Int
        var canApply: Bool
        var csrf: String
        var hidden: [Hidden]
        var back: String
    }

    // MARK: One job

    struct StepLine {
        var name: String
        var state: String
        var attempts: Int
        var started: String
        var took: String
        var model: String
        var inputTokens: Int
        var outputTokens: Int
        var cost: String
        var error: String
    }

    struct AnalysisView {
        struct Fact {
            var label: String
            var value: String
        }

        var type: String
        var title: String
        var summary: String
        var issuer: String?
        var date: String?
        var total: String?
        var facts: [Fact]
        var amounts: [String]
        var hasAmounts: Bool
        var dates: [String]
        var hasDates: Bool
    }

    static func analysis(_ analysis: Analysis?) -> AnalysisView? {
        guard let analysis else { return nil }
        let amounts = analysis.amounts.map { amount($0) }
        return AnalysisView(type: analysis.documentType, title: analysis.title, summary: analysis.summary, issuer: analysis.primaryIssuer,
                            date: analysis.primaryDate, total: analysis.primaryAmount.map { amount($0) },
                            facts: analysis.keyFacts.map { AnalysisView.Fact(label: $0.label, value: $0.value) },
                            amounts: amounts, hasAmounts: !amounts.isEmpty, dates: analysis.dates, hasDates: !analysis.dates.isEmpty)
    }

    static func amount(_ amount: Analysis.Amount) -> String {
        let value = "\(amount.value)"
        let text = amount.currency.map { "\($0) \(value)" } ?? value
        return amount.label.isEmpty ? text : "\(text) (\(amount.label))"
    }

    struct Job {
        var code: String
        var name: String
        var state: String
        var error: String?
        var origin: String
        var user: String?
        var created: String
        var finished: String?
        var inputTokens: Int
        var outputTokens: Int
        var cost: String
        var sha: String
        var shortSHA: String
        var retryable: Bool
        var csrf: String
        var steps: [StepLine]
        var analysis: AnalysisView?
    }

    static func job(_ details: JobDetails, answerStep: String, csrf: String) -> Job {
        let job = details.job, usage = details.usage
        let who = job.userID.map { "user \($0)" } ?? job.tokenID.map { "API token \($0)" }
        return Job(
            code: job.code, name: job.sourceName, state: job.state.rawValue, error: job.lastError, origin: job.origin.rawValue, user: who,
            created: time(job.createdAt), finished: job.finishedAt.map(time), inputTokens: usage.inputTokens, outputTokens: usage.outputTokens,
            cost: money(usage.costUSD), sha: details.document.sha256, shortSHA: String(details.document.sha256.prefix(16)),
            retryable: job.state == .failed, csrf: csrf,
            steps: details.steps.map {
                StepLine(name: $0.plugin, state: $0.state.rawValue, attempts: $0.attempts, started: $0.startedAt.map(time) ?? "",
                         took: $0.durationMilliseconds.map { String(format: "%.0f ms", $0) } ?? "", model: $0.model ?? "",
                         inputTokens: $0.inputTokens, outputTokens: $0.outputTokens, cost: money($0.costUSD), error: $0.error ?? "")
            },
            analysis: analysis(decodedAnalysis(details, answerStep: answerStep)))
    }

    static func decodedAnalysis(_ details: JobDetails, answerStep: String) -> Analysis? {
        details.output(of: answerStep).flatMap { try? JSONDecoder().decode(Analysis.self, from: $0) }
    }

    // MARK: Documents

    struct Hit {
        var sha: String
        var name: String
        var code: String
        /// Escaped here, with the matched words in `<mark>`.
        var snippet: String
    }

    struct Documents {
        var query: String
        var searched: Bool
        var count: Int
        var hits: [Hit]
    }

    /// A snippet from the full-text index, whose matches the store marks «like this»: the text is escaped first,
    /// then the marks become `<mark>` (so nothing in the document's text can become markup).
    static func highlighted(_ snippet: String) -> String {
        Replies.escape(snippet).replacingOccurrences(of: "«", with: "<mark>").replacingOccurrences(of: "»", with: "</mark>")
    }

    struct DocumentJob {
        var code: String
        var name: String
        var state: String
        var created: String
    }

    struct Document {
        var sha: String
        var format: String
        var size: String
        /// "1 page", "3 pages" (nil until read).
        var pages: String?
        var isImage: Bool
        var isPDF: Bool
        var offersSearchablePDF: Bool
        var text: String
        var analysis: AnalysisView?
        var jobs: [DocumentJob]
    }

    // MARK: Costs

    struct CostLineView {
        var label: String
        var calls: Int
        var input: Int
        var output: Int
        var cost: String
    }

    struct CostTable {
        var title: String
        var heading: String
        var lines: [CostLineView]
    }

    struct TopDocument {
        var code: String
        var name: String
        var input: Int
        var output: Int
        var cost: String
    }

    struct Costs {
        var ranges: [Option]
        var total: String
        var inputTokens: Int
        var outputTokens: Int
        var chart: String
        var tables: [CostTable]
        var top: [TopDocument]
    }

    static func costs(_ report: CostReport, days: Int) -> Costs {
        func lines(_ lines: [CostLine]) -> [CostLineView] {
            lines.map { CostLineView(label: $0.label, calls: $0.calls, input: $0.inputTokens, output: $0.outputTokens, cost: money($0.costUSD)) }
        }
        return Costs(
            ranges: options([("1", "today"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "a year")], selected: String(days)),
            total: money(report.byDay.reduce(0) { $0 + $1.costUSD }),
            inputTokens: report.byDay.reduce(0) { $0 + $1.inputTokens }, outputTokens: report.byDay.reduce(0) { $0 + $1.outputTokens },
            chart: BarChart.svg(values: report.byDay.map(\.costUSD), labels: report.byDay.map { String($0.label.suffix(5)) }, title: "Spend per day (USD)",
                                every: max(1, report.byDay.count / 8)),
            tables: [CostTable(title: "Per day", heading: "Day (UTC)", lines: lines(report.byDay)),
                     CostTable(title: "Per model", heading: "Model", lines: lines(report.byModel)),
                     CostTable(title: "Per user", heading: "User", lines: lines(report.byUser)),
                     CostTable(title: "Per analyser", heading: "Step or purpose", lines: lines(report.byAnalyser))],
            top: report.topDocuments.map { TopDocument(code: $0.jobCode, name: $0.name, input: $0.inputTokens, output: $0.outputTokens, cost: money($0.costUSD)) })
    }

    // MARK: Users

    struct MemberLine {
        var id: Int64
        var role: String
        var configured: Bool
        var isAdmin: Bool
        var lastActive: String
        var csrf: String
    }

    struct Users {
        var members: [MemberLine]
        var csrf: String
    }

    // MARK: Sign-in and messages

    struct SignIn {
        var token: String
    }

    struct Message {
        var text: String
        var link: String?
        var linkLabel: String?
    }

    // MARK: Formatting

    static func time(_ timestamp: Timestamp) -> String {
        Date(timeIntervalSince1970: timestamp).formatted(timeStyle) + " UTC"
    }

    static func day(_ timestamp: Timestamp) -> String {
        timestamp.utcDay
    }

    /// `2026-11-24 05:50` in UTC (a value style: nothing shared between requests to guard).
    private static let timeStyle = Timestamp.utcDayStyle.dateTimeSeparator(.space).time(includingFractionalSeconds: false).timeSeparator(.colon)

    static func money(_ usd: Double) -> String {
        usd == 0 ? "$0" : usd < 0.01 ? String(format: "$%.4f", usd) : String(format: "$%.2f", usd)
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count), unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f ", value) + units[unit]
    }

    static func clipped(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}

/// An inline SVG bar chart built from numbers only (labels are our own dates and hours), so it is safe to
/// place in the page unescaped; it carries its figures as a `<title>` per bar for screen readers and hovering.
enum BarChart {
    static func svg(values: [Double], labels: [String], title: String, every: Int) -> String {
        let width = 720.0, height = 160.0, bottom = 20.0, top = 14.0
        let barWidth = values.isEmpty ? 0 : width / Double(values.count)
        let peak = max(values.max() ?? 0, 1e-9)
        var svg = #"<svg class="chart" role="img" viewBox="0 0 \#(Int(width)) \#(Int(height))" xmlns="http://www.w3.org/2000/svg">"#
        svg += "<title>\(Replies.escape(title))</title>"
        for (index, value) in values.enumerated() {
            let barHeight = value <= 0 ? 0 : max(1, (height - bottom - top) * value / peak)
            let x = Double(index) * barWidth
            let figure = value == value.rounded() ? String(Int(value)) : String(format: "%.4f", value)
            let label = index < labels.count ? Replies.escape(labels[index]) : ""
            svg += String(format: #"<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f">"#, x + 1, height - bottom - barHeight, max(1, barWidth - 2), barHeight)
                + "<title>\(label): \(figure)</title></rect>"
            if index % max(1, every) == 0 {
                svg += String(format: #"<text x="%.1f" y="%.1f">"#, x + 1, height - 5) + label + "</text>"
            }
        }
        svg += #"<text x="0" y="10">max "# + (peak == peak.rounded() ? String(Int(peak)) : String(format: "%.4f", peak)) + "</text>"
        return svg + "</svg>"
    }
}
