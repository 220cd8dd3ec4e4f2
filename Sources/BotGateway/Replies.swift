import Foundation
import OCR
import Plugins
import Storage

/// Everything the bot says, written once, here at the Telegram edge. Text from documents, file names
/// and users is HTML-escaped: replies use Telegram's HTML parse mode.
public enum Replies {
    /// Telegram's limit is 4096 UTF-16 code units of text after entity parsing. Parts are measured in UTF-16
    /// units of the HTML itself (never less than what Telegram counts), with room for the tags a cut closes.
    public static let messageLimit = 4000
    /// Captions: 1024 units after entity parsing.
    public static let captionLimit = 1024
    /// A command's argument longer than this gets one short reply instead of an answer.
    static let argumentLimit = 256

    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Splits HTML into messages of at most `limit` UTF-16 units, at line ends where it can. A cut never falls
    /// inside an entity (`&amp;`) or a tag, and tags open at a cut are closed at the end of the part and opened
    /// again at the start of the next, so every part parses on its own.
    public static func split(_ html: String, limit: Int = messageLimit) -> [String] {
        var splitter = HTMLSplitter(limit: limit)
        for token in HTMLToken.tokens(of: html) { splitter.append(token) }
        return splitter.finish()
    }

    /// The visible text of our HTML: tags dropped, entities decoded (the fallback when Telegram refuses the HTML).
    public static func plainText(_ html: String) -> String {
        var out = ""
        for token in HTMLToken.tokens(of: html) {
            switch token {
            case .tag: continue
            case .entity(let entity): out += HTMLToken.decode(entity)
            case .text(let text): out += text
            }
        }
        return out
    }

    /// Plain text cut to `limit` UTF-16 units, with an ellipsis when cut (never inside a surrogate pair or a character).
    static func truncated(_ text: String, limit: Int) -> String {
        guard text.utf16.count > limit else { return text }
        var out = ""
        for character in text {
            guard out.utf16.count + character.utf16.count <= limit - 1 else { break }
            out.append(character)
        }
        return out + "…"
    }

    static let help = """
        Send me a photo, a scan or a PDF and I will read it and tell you what it is: type, dates, amounts, \
        parties and what to do. Photos sent together (an album) that are pages of one document become one \
        document; distinct documents get one combined report.

        /status CODE – where a document is
        /report – one report over your recent documents
        /search WORDS – find words in your documents
        /ask QUESTION – ask your documents, e.g. /ask how much did I spend at Corner Cafe in March?
        /pdf CODE – a document as a PDF you can search and copy text from
        /pdf on, /pdf off – send that PDF with every result here, or not
        /merge – the photos you send next are the pages of one document; /done when that is all
        /albums merge, /albums separate, /albums auto – how albums here become documents
        /forget CODE – delete a document of yours and what was read from it
        /help – this message
        """

    static let adminHelp = """

        Admin: /allow ID, /deny ID, /users, /jobs, /retry CODE, /stats, /dashboard
        """

    static func stranger(userID: Int64) -> String {
        "This bot is private. Your Telegram id is <code>\(userID)</code>; send it to the bot's admin to be let in."
    }

    static func acknowledged(code: String) -> String {
        "Got it. Job <code>\(code)</code>: I will reply here when it is read."
    }

    static let acknowledgedAlbum = "Got your album. I will answer once every photo is read: as one document when they are its pages, otherwise with one report."

    static func pageAdded(_ pages: Int) -> String {
        "Page \(pages) added. Send the next, or /done when that is all."
    }

    static let mergeStarted = "Send the pages one by one (or as an album), then /done: I will read them as one document."

    static func mergeOpen(_ pages: Int) -> String {
        "Already collecting: \(pages) \(pages == 1 ? "page" : "pages") so far. Send more, or /done when that is all."
    }

    static func mergeDone(_ pages: Int) -> String {
        pages == 0 ? "No pages came after /merge; nothing to put together." : "Putting \(pages) \(pages == 1 ? "page" : "pages") together as one document…"
    }

    static let nothingToMerge = "Nothing to put together: send /merge, then the pages, then /done."

    static let pagesOff = "Putting pages together is not offered here."

    static func mergedPages(_ pages: Int, code: String) -> String {
        "\(pages) pages, one document: job <code>\(code)</code>. I will reply here when it is read."
    }

    static func albumMode(_ mode: AlbumMode, changed: Bool) -> String {
        let what = switch mode {
        case .auto: "albums whose photos are pages of one document become one document; distinct documents stay apart (one report)"
        case .merge: "every album of photos becomes one document"
        case .separate: "every photo of an album is a document of its own (one report)"
        }
        return (changed ? "Done: " : "Here ") + what + ". /albums merge, /albums separate or /albums auto to change it."
    }

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

    static func argumentTooLong(command: String) -> String {
        "That is too long for \(escape(command)): keep it under \(argumentLimit) characters."
    }

    /// A file name or other name from a user, as shown: cleaned of control and invisible reordering
    /// characters, escaped.
    static func name(_ raw: String) -> String {
        escape(DocumentIntake.safeName(raw))
    }

    /// The answer for one document.
    public static func analysis(_ details: JobDetails) -> String {
        let job = details.job
        // The analysis is the answer even when a later step (archiving) is still retrying or failed.
        guard let analysis = details.analysis else {
            // Read but not analysed (the analysis service refused, the model's answer was unusable): the text is still theirs.
            if let result = details.ocr {
                let text = result.text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !text.isEmpty {
                    return "I read <b>\(name(job.sourceName))</b> but could not analyse it: \(escape(job.lastError ?? "the analysis failed")). "
                        + "Here is the text I read (job <code>\(job.code)</code>):\n\n" + escape(text)
                }
            }
            return "Sorry, I could not read <b>\(name(job.sourceName))</b>: \(escape(job.lastError ?? "it failed")). (job <code>\(job.code)</code>)"
        }
        var lines = ["<b>\(escape(analysis.title))</b>", "<i>\(escape(analysis.documentType.replacingOccurrences(of: "_", with: " ")))</i>", "", escape(analysis.summary)]
        if let total = analysis.total {
            let tax = analysis.tax.map { " (tax \(LocalAnalyzer.format($0.value)))" } ?? ""
            lines += ["", "<b>Total:</b> \(total.currency.map { $0 + " " } ?? "")\(LocalAnalyzer.format(total.value))\(tax)"]
        }
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
            lines.append(line)
        }
        // Cut by characters before escaping, so no entity is ever cut in half.
        let text = truncated(lines.joined(separator: "\n"), limit: limit)
        return "<b>Summary</b>\n" + escape(text)
    }

    static func status(_ details: JobDetails) -> String {
        let job = details.job
        var lines = ["Job <code>\(job.code)</code> (\(name(job.sourceName))): <b>\(job.state.rawValue)</b>"]
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
