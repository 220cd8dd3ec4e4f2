import Foundation
import OCR
import Storage

/// The steps this gateway runs, in order: which exist, which one produces the answer, which are deferrable.
/// Built once in the composition root and handed to `serve`, `batch` and the tests alike, so a step added
/// there runs everywhere. Adding a step is its plugin and one line where the catalogue is built.
public struct StepCatalog: Sendable {
    /// In the order new jobs get them.
    public let plugins: [any Plugin]
    public let names: [String]
    /// The step whose output answers the requester: the last one that says it does (else the last step that
    /// is not deferrable). A job is answered once this step is done, or the job is over.
    public let answerStep: String
    /// Steps that do not hold back the answer or a batch's end (see `Plugin.isDeferrable`).
    public let deferrable: Set<String>
    private let byName: [String: any Plugin]

    public init(_ plugins: [any Plugin]) {
        self.plugins = plugins
        names = plugins.map(\.name)
        deferrable = Set(plugins.filter(\.isDeferrable).map(\.name))
        answerStep = plugins.last(where: \.producesAnswer)?.name ?? plugins.last { !$0.isDeferrable }?.name ?? plugins.last?.name ?? ""
        byName = Dictionary(plugins.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func plugin(named name: String) -> (any Plugin)? { byName[name] }

    /// True when the requester can be given this job's answer.
    public func isAnswered(_ details: JobDetails) -> Bool {
        details.isAnswered(answerStep: answerStep)
    }
}

/// The built-in steps' outputs, read through one accessor: the OCR result and the analysis, decoded from
/// what the steps stored.
public enum StepOutput {
    public static let ocrStep = "ocr"
    public static let analysisStep = "analyze"

    public static func ocr(_ data: Data?) throws -> OCRResult? {
        try data.map { try JSONDecoder().decode(OCRResult.self, from: $0) }
    }

    public static func analysis(_ data: Data?) throws -> Analysis? {
        try data.map(Analysis.decode)
    }
}

extension JobDetails {
    /// The OCR step's result, when it is done (nil also when it cannot be decoded).
    public var ocr: OCRResult? { try? StepOutput.ocr(output(of: StepOutput.ocrStep)) }
    /// The analysis, when the analyse step is done (nil also when it cannot be decoded).
    public var analysis: Analysis? { try? StepOutput.analysis(output(of: StepOutput.analysisStep)) }
    /// The model (or `local`) that analysed it.
    public var analyser: String? { steps.first { $0.plugin == StepOutput.analysisStep }?.model }
}
