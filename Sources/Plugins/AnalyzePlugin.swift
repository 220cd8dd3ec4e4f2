import Foundation
import OCR
import Storage

/// What an analyser gets: the OCR text and the document itself (for analysers that look at images).
public struct AnalysisInput: Sendable {
    public var text: String
    public var ocr: OCRResult
    public var document: DocumentRecord
    public var documentPath: String
    /// The name this requester gave the file. Not the document's: the same bytes may have come from
    /// someone else first, and their name is theirs.
    public var fileName: String
    /// The sender's language (Telegram's `language_code`), to answer in it.
    public var languageCode: String?

    public init(text: String, ocr: OCRResult, document: DocumentRecord, documentPath: String, fileName: String? = nil, languageCode: String? = nil) {
        self.text = text
        self.ocr = ocr
        self.document = document
        self.documentPath = documentPath
        self.fileName = fileName ?? document.originalName
        self.languageCode = languageCode
    }
}

/// Fills SPEC §6's analysis from a document. The local analyser works offline; Claude and OpenAI
/// analysers implement the same protocol.
public protocol Analyzer: Sendable {
    var name: String { get }
    func analyze(_ input: AnalysisInput) async throws -> (Analysis, StepUsage)
}

/// The `analyze` step.
public struct AnalyzePlugin: Plugin {
    public static let stepName = StepOutput.analysisStep
    public var name: String { Self.stepName }
    public var producesAnswer: Bool { true }

    let analyzer: any Analyzer

    public init(analyzer: any Analyzer) {
        self.analyzer = analyzer
    }

    public func run(_ context: PluginContext) async throws -> PluginResult {
        guard let ocr = try context.ocrResult() else {
            throw PluginError.permanent("the document has no OCR result to analyse")
        }
        let input = AnalysisInput(text: ocr.text, ocr: ocr, document: context.document, documentPath: context.documentPath,
                                  fileName: context.job.sourceName, languageCode: context.job.languageCode)
        let (analysis, usage) = try await analyzer.analyze(input)
        return PluginResult(output: try analysis.json(), usage: usage)
    }
}
