import Foundation
import Plugins
import Storage
import UseCases

/// The commands' answers.
extension Replies {
    static func usage(_ form: String) -> String { "Usage: \(form)" }

    static func noJob(_ code: String) -> String { "No job \(name(code.uppercased())) here." }

    static func unknownCommand(_ name: String) -> String { "I don't know \(escape(name)). /help lists what I can do." }

    static let nothingToReport = "No finished documents here yet."

    static func reportCaption(_ documents: Int) -> String { "Report of \(documents) documents" }

    static func searchHits(_ hits: [SearchHit], for words: String) -> String {
        guard !hits.isEmpty else { return "Nothing found for \(escape(words))." }
        return hits.map { "• <b>\(name($0.name))</b> (<code>\($0.jobCode)</code>): \(escape($0.snippet))" }.joined(separator: "\n")
    }

    static func forgot(_ outcome: ForgetOutcome, code: String) -> String {
        switch outcome {
        case .forgotten(let code, let documentRemoved, let archiveFailed):
            var text = "Job <code>\(code)</code> is forgotten"
            text += documentRemoved ? ": its results and the document itself are deleted." : "; the document stays, another job of yours uses it."
            if archiveFailed { text += " The archived copies could not be deleted right now; the admin has been told in the log." }
            return text
        case .notFound: return "No job \(name(code.uppercased())) of yours here."
        case .busy: return "Job \(name(code.uppercased())) is being read right now; forget it once it is done."
        }
    }

    static func dashboardLink(_ link: String) -> String {
        "Your sign-in link for the dashboard (works once, for 10 minutes; do not forward it):\n\(escape(link))"
    }

    static let noDashboard = "The dashboard is not served by this gateway."

    static let noSearchablePDFs = "This gateway does not make searchable PDFs."

    static func searchablePDFsAttached(_ attach: Bool) -> String {
        attach ? "From now on every result here comes with its searchable PDF. /pdf off stops it."
            : "Results here come without PDFs again; /pdf CODE still sends one."
    }

    static func searchablePDFCaption(code: String) -> String { "Job \(name(code)) as a searchable PDF" }

    static func searchablePDFNotNeeded(code: String) -> String {
        "Job \(name(code)) is a PDF with its own text: it is searchable as it is."
    }

    static func searchablePDFNotReady(code: String) -> String {
        "Job \(name(code)) has not been read yet; ask again once I have replied with its result."
    }

    static func searchablePDFFailed(code: String, _ reason: String) -> String {
        "No searchable PDF of job \(name(code)): \(escape(reason))"
    }

    static func allowed(_ id: Int64, _ outcome: AllowOutcome) -> String {
        switch outcome {
        case .allowed: "\(id) may use the bot now."
        case .alreadyAdmin: "\(id) is an admin already."
        }
    }

    static func denied(_ id: Int64, _ outcome: DenyOutcome) -> String {
        switch outcome {
        case .removed: "\(id) removed."
        case .notListed: "\(id) was not on the list."
        case .isSelf: "You can't remove yourself; another admin can."
        case .configuredAdmin: "\(id) is an admin from BOT_ADMIN_IDS; remove them there."
        }
    }

    static func members(_ members: [Member]) -> String {
        members.map { $0.configured ? "\($0.id) (admin, from BOT_ADMIN_IDS)" : "\($0.id) (\($0.role.rawValue))" }
            .joined(separator: "\n").nonEmpty ?? "Nobody yet."
    }

    static func jobList(_ jobs: [JobRecord]) -> String {
        jobs.map { "<code>\($0.code)</code> \($0.state.rawValue) \(name($0.sourceName))" }.joined(separator: "\n").nonEmpty ?? "No jobs yet."
    }

    static func retried(_ job: JobRecord) -> String { "Job <code>\(job.code)</code> queued again." }

    static func stats(_ stats: GatewayStats) -> String {
        let jobs = JobState.allCases.map { "\($0.rawValue) \(stats.jobs[$0, default: 0])" }.joined(separator: ", ")
        return String(format: "Jobs: %@\nDocuments: %d\nUsers: %d\nLLM: %d input + %d output tokens, $%.4f\nReplies waiting: %d",
                      jobs, stats.documents, stats.users, stats.inputTokens, stats.outputTokens, stats.costUSD, stats.pendingReplies)
    }

    /// Telegram would not hand the file over.
    static func downloadRefused(_ error: TelegramError, size: Int64?, limit: Int64) -> String {
        if case .transport(.responseTooLarge) = error { return tooLarge(bytes: limit + 1, limit: limit) }
        if error.isFileTooBig { return tooLarge(bytes: size ?? limit + 1, limit: limit) }
        return refused("Telegram would not hand it over (\(error))")
    }
}

/// `/ask`'s answers.
extension Replies {
    /// Matches listed under an answer; the count and totals cover all of them.
    static let askListed = 5

    static func ask(_ outcome: AskOutcome) -> String {
        switch outcome {
        case .off: return "Questions are turned off on this bot."
        case .overDailyLimit(let limit):
            return "You have asked \(limit) questions today, the most this bot answers a day. Ask again after midnight UTC."
        case .nothingToLookFor:
            return "Ask about something in your documents: a name, a word on them, a kind (receipts, invoices) or a period "
                + "(\"How much did I spend at Corner Cafe in March?\")."
        case .answered(let answer): return ask(answer)
        }
    }

    static func ask(_ answer: AskAnswer) -> String {
        let findings = answer.findings
        guard !findings.matches.isEmpty else {
            var text = "Nothing in your documents matches that."
            if !findings.question.terms.isEmpty, findings.unmatchedTerms.count == findings.question.terms.count {
                text += " None of them mentions \(findings.unmatchedTerms.map { "“\(escape($0))”" }.joined(separator: " or "))."
            }
            return text
        }
        if let text = answer.text {
            let sources = answer.cited.isEmpty ? Array(findings.matches.prefix(3)) : answer.cited
            var out = "\(escape(text))\n\n<i>Answered by \(escape(answer.model ?? "the model")) from "
                + (answer.cited.isEmpty ? "these documents of yours:" : "these documents of yours, as cited:") + "</i>\n"
            out += sources.map { askSource($0, quote: false) }.joined(separator: "\n")
            return out
        }
        var out = askHeadline(findings) + "\n" + findings.matches.prefix(askListed).map { askSource($0, quote: true) }.joined(separator: "\n")
        if findings.matches.count > askListed { out += "\n…and \(findings.matches.count - askListed) more." }
        if let failure = answer.modelFailure {
            out += "\n\n<i>The model could not answer (\(escape(failure))); these are the best-matching passages.</i>"
        }
        return out
    }

    /// "3 receipts matching “corner cafe” from 2024-02-01 to 2024-02-29: GBP 8.25 in all."
    static func askHeadline(_ findings: AskFindings) -> String {
        let question = findings.question, count = findings.matches.count
        let kind = question.kinds.count == 1 ? question.kinds.first!.replacingOccurrences(of: "_", with: " ") : "document"
        var text = "<b>\(count) \(kind)\(count == 1 ? "" : "s")</b>"
        let found = question.terms.filter { !findings.unmatchedTerms.contains($0) }
        if !found.isEmpty { text += " matching “\(escape(found.joined(separator: " ")))”" }
        if let period = question.period {
            if period.from == period.to {
                text += " of \(period.from)"
            } else if period.from == "0000-01-01" {
                text += " up to \(period.to)"
            } else {
                text += " from \(period.from) to \(period.to)"
            }
        }
        let totals = findings.totals
        if !totals.isEmpty {
            let sums = totals.map { [$0.currency.isEmpty ? nil : $0.currency, LocalAnalyzer.format($0.value)].compactMap { $0 }.joined(separator: " ") }
            text += ": \(escape(sums.joined(separator: " + "))) in all"
            let withTotal = totals.reduce(0) { $0 + $1.documents }
            if withTotal < count { text += " (\(count - withTotal) without a total)" }
            if totals.contains(where: { $0.currency.isEmpty }) { text += "; some amounts name no currency" }
        }
        if !found.isEmpty, !findings.unmatchedTerms.isEmpty {
            text += ". None mentions \(findings.unmatchedTerms.map { "“\(escape($0))”" }.joined(separator: " or "))"
        }
        return text + "."
    }

    /// "• receipt.jpg (CODE) 2024-02-03, CORNER CAFE, GBP 8.25" and, with `quote`, its best lines.
    static func askSource(_ match: AskMatch, quote: Bool) -> String {
        var facts = [match.date]
        if let issuer = match.issuer { facts.append(escape(issuer)) }
        if let total = match.total {
            facts.append(escape([total.currency, LocalAnalyzer.format(total.value)].compactMap { $0 }.joined(separator: " ")))
        }
        var line = "• <b>\(name(match.name))</b> (<code>\(match.jobCode)</code>) \(facts.joined(separator: ", "))"
        if quote, !match.lines.isEmpty { line += "\n   " + match.lines.map { "«\(escape($0))»" }.joined(separator: " ") }
        return line
    }
}
