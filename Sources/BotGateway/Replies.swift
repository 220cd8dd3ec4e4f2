import Foundation
import OCR
import Plugins
import Storage

/// Everything the bot says, written once, here at the Telegram edge. Text from documents, file names
/// and users is HTML-escaped: replies use Telegram's HTML parse mode.
public enum Replies {
    /// Telegram's limit is 4096 characters after entities; stay under it with room for tags.
    public static let messageLimit = 4000
    /// Longer answers go as a Markdown document instead of many messages.
    static let documentThreshold = 3 * messageLimit

    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Splits on line boundaries (a very long line is cut) so each part stays under the limit.
    public static func split(_ text: String, limit: Int = messageLimit) -> [String] {
        var parts: [String] = []
        var current = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(line)
            while line.count > limit {
                if !current.isEmpty { parts.append(current); current = "" }
                parts.append(String(line.prefix(limit)))
                line = String(line.dropFirst(limit))
            }
            if current.count + line.count + 1 > limit, !current.isEmpty {
                parts.append(current)
                current = ""
            }
            current += current.isEmpty ? line : "\n" + line
        }
        if !current.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { parts.append(current) }
        return parts
    }

    static let help = """
        Send me a photo, a scan or a PDF and I will read it and tell you what it is: type, dates, amounts, \
        parties and what to do. Several photos sent together (an album) get one combined report.

        /status CODE – where a document is
        /report – one report over your recent documents
        /search WORDS – find words in your documents
        /help – this message
        """

    static let adminHelp = """

        Admin: /allow ID, /deny ID, /users, /jobs, /retry CODE, /stats
        """

    static func stranger(userID: Int64) -> String {
        "This bot is private. Your Telegram id is <code>\(userID)</code>; send it to the bot's admin to be let in."
    }

    static func acknowledged(code: String) -> String {
        "Got it. Job <code>\(code)</code>: I will reply here when it is read."
    }

    static let acknowledgedAlbum = "Got your album. I will send one report once every page is read."

    static let nothingToRead = "Send me a photo, an image file or a PDF to read; /help says more."

    static func unsupported(_ what: String) -> String {
        "I can't read \(escape(what)). Send a photo, an image (JPEG, PNG, TIFF, WebP, BMP, GIF) or a PDF."
    }

    static func tooLarge(bytes: Int64, limit: Int64) -> String {
        String(format: "That file is %.1f MB; I can fetch at most %.0f MB from Telegram. Send a smaller file or split the PDF.",
               Double(bytes) / 1_000_000, Double(limit) / 1_000_000)
    }

    static func refused(_ reason: String) -> String {
        "I can't read that file: \(escape(reason))."
    }

    static let notAllowed = "Not allowed."

    /// The answer for one document.
    public static func analysis(_ details: JobDetails) -> String {
        let job = details.job
        // The analysis is the answer even when a later step (archiving) is still retrying or failed.
        guard let data = details.output(of: AnalyzePlugin.stepName), let analysis = try? Analysis.decode(data) else {
            // Read but not analysed (the analysis service refused, the model's answer was unusable): the text is still theirs.
            if let ocr = details.output(of: OCRPlugin.stepName), let result = try? JSONDecoder().decode(OCRResult.self, from: ocr) {
                let text = result.text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !text.isEmpty {
                    return "I read <b>\(escape(job.sourceName))</b> but could not analyse it: \(escape(job.lastError ?? "the analysis failed")). "
                        + "Here is the text I read (job <code>\(job.code)</code>):\n\n" + escape(text)
                }
            }
            return "Sorry, I could not read <b>\(escape(job.sourceName))</b>: \(escape(job.lastError ?? "it failed")). (job <code>\(job.code)</code>)"
        }
        var lines = ["<b>\(escape(analysis.title))</b>", "<i>\(escape(analysis.documentType.replacingOccurrences(of: "_", with: " ")))</i>", "", escape(analysis.summary)]
        if !analysis.dates.isEmpty { lines += ["", "<b>Dates:</b> " + analysis.dates.joined(separator: ", ")] }
        let amounts = analysis.amounts.prefix(8).map { "\($0.currency.map { $0 + " " } ?? "")\(LocalAnalyzer.format($0.value)) – \(escape($0.label))" }
        if !amounts.isEmpty { lines += ["", "<b>Amounts:</b>"] + amounts.map { "• " + $0 } }
        if !analysis.parties.isEmpty { lines += ["", "<b>Parties:</b> " + analysis.parties.map(escape).joined(separator: "; ")] }
        if !analysis.actionItems.isEmpty { lines += ["", "<b>To do:</b>"] + analysis.actionItems.map { "• " + escape($0) } }
        lines += ["", "Job <code>\(job.code)</code>"]
        return lines.joined(separator: "\n")
    }

    /// A model's Markdown summary as chat text: bullets as •, emphasis dropped, escaped, cut at `limit`.
    static func summary(_ markdown: String, limit: Int = 2000) -> String {
        var lines: [String] = []
        for raw in markdown.split(separator: "\n", omittingEmptySubsequences: true) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            for bullet in ["- ", "* ", "+ "] where line.hasPrefix(bullet) { line = "• " + line.dropFirst(2) }
            line = line.replacingOccurrences(of: "**", with: "").replacingOccurrences(of: "__", with: "")
            lines.append(escape(line))
        }
        var text = lines.joined(separator: "\n")
        if text.count > limit { text = String(text.prefix(limit)) + "…" }
        // A cut must not leave half an entity (&amp;) behind.
        if let amp = text.lastIndex(of: "&"), !text[amp...].contains(";") { text = String(text[..<amp]) + "…" }
        return "<b>Summary</b>\n" + text
    }

    static func status(_ details: JobDetails) -> String {
        let job = details.job
        var lines = ["Job <code>\(job.code)</code> (\(escape(job.sourceName))): <b>\(job.state.rawValue)</b>"]
        for step in details.steps {
            lines.append("• \(step.plugin): \(step.state.rawValue)\(step.attempts > 1 ? ", \(step.attempts) attempts" : "")")
        }
        if let error = job.lastError, job.state != .done { lines.append(escape(error)) }
        return lines.joined(separator: "\n")
    }
}

/// What the reply sender sends; stored as the outbox payload.
public struct ReplyPayload: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case message, document
    }

    public var kind: Kind
    public var text: String
    public var replyTo: Int64?
    /// For documents: the file to upload and its name.
    public var path: String?
    public var fileName: String?

    public static func message(_ text: String, replyTo: Int64? = nil) -> ReplyPayload {
        ReplyPayload(kind: .message, text: text, replyTo: replyTo)
    }

    public static func document(path: String, fileName: String, caption: String, replyTo: Int64? = nil) -> ReplyPayload {
        ReplyPayload(kind: .document, text: caption, replyTo: replyTo, path: path, fileName: fileName)
    }

    func record(chatID: Int64, dedupeKey: String) -> OutboxRecord {
        OutboxRecord(chatID: chatID, kind: kind.rawValue, payload: (try? JSONEncoder().encode(self)) ?? Data(), dedupeKey: dedupeKey)
    }
}
