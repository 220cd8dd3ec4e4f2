import Foundation
import OCR
import Storage

/// What of the document itself goes to a model besides the OCR text.
enum DocumentAttachment: Sendable {
    case pdf(Data)
    case pages([PageImage])
    /// Text only, and why (for the prompt: the model should know it sees no page).
    case none(reason: String)

    var isEmpty: Bool {
        if case .none = self { return true }
        return false
    }

    /// Reads the file off the concurrency pool: decoding and re-encoding pages is blocking CPU work.
    static func load(_ input: AnalysisInput, settings: PageImageSettings, send: Bool) async -> DocumentAttachment {
        guard send else { return .none(reason: "sending documents is turned off") }
        let format = input.ocr.format
        let path = input.documentPath
        let corrections = input.ocr.pages.map(\.corrections)
        // `build` reports every problem as `.none(reason:)`; it never throws.
        return (try? await BlockingWork.run { build(format: format, path: path, corrections: corrections, settings: settings) })
            ?? .none(reason: "the page images could not be made")
    }

    static func build(format: DocumentFormat, path: String, corrections: [PageCorrections], settings: PageImageSettings) -> DocumentAttachment {
        if format == .pdf {
            let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
            guard size <= settings.maxPDFBytes else { return .none(reason: "the PDF is too large to attach") }
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else { return .none(reason: "the PDF could not be read") }
            return .pdf(data)
        }
        let encoder = PageImageEncoder(maxEdge: settings.maxEdge, maxPages: settings.maxPages)
        do {
            let pages = try encoder.pages(path: path, corrections: corrections)
            return pages.isEmpty ? .none(reason: "no page image could be made") : .pages(pages)
        } catch {
            return .none(reason: "the page images could not be made (\(error))")
        }
    }
}

/// The user turn's text, the same for both analysers.
enum AnalysisRequestText {
    static func make(_ input: AnalysisInput, attachment: DocumentAttachment, maxCharacters: Int, schemaInText: Bool) -> String {
        var text = "File: \(input.fileName)\nPages: \(input.ocr.pages.count)\n"
        switch attachment {
        case .pdf: text += "The PDF is attached.\n"
        case .pages(let pages):
            text += pages.count < input.ocr.pages.count ? "The first \(pages.count) page images are attached.\n" : "The page images are attached.\n"
        case .none: text += "Only the OCR text is available.\n"
        }
        text += AnalysisPrompt.languageInstruction(input.languageCode) + "\n\n"
        var ocr = input.text
        if ocr.count > maxCharacters { ocr = String(ocr.prefix(maxCharacters)) + "\n[… OCR text cut here …]" }
        text += "OCR text:\n<ocr_text>\n\(ocr)\n</ocr_text>\n"
        if schemaInText, let schema = try? JSONSerialization.data(withJSONObject: AnalysisSchema.jsonSchema(), options: [.sortedKeys]) {
            text += "\nAnswer with one JSON object matching this JSON Schema, and nothing else:\n\(String(decoding: schema, as: UTF8.self))\n"
        }
        return text
    }
}
