import Foundation
import OCR
import Storage

/// The `ocr` step: reads the document with the engine pool, or reuses the text of the same content
/// read before (documents are stored once by SHA-256, so a resent file is not OCRed twice). The text it
/// reads goes back with its result; the pipeline keeps it with the document.
public struct OCRPlugin: Plugin {
    public static let stepName = StepOutput.ocrStep
    public var name: String { Self.stepName }

    /// The engines, started on first use: a batch that only enqueues never loads them.
    let engines: @Sendable () async throws -> OCREnginePool

    public init(pool: OCREnginePool) {
        engines = { pool }
    }

    public init(engines: @escaping @Sendable () async throws -> OCREnginePool) {
        self.engines = engines
    }

    public func run(_ context: PluginContext) async throws -> PluginResult {
        if let cached = context.document.ocrResult {
            return PluginResult(output: cached, reused: true)
        }
        let result: OCRResult
        do {
            result = try await engines().recognize(.file(context.documentPath))
        } catch let error as OCRError {
            throw PluginError(error.isTransient ? .transient : .permanent, error.description)
        }
        let encoded = try JSONEncoder().encode(result)
        context.logger.debug("read", metadata: ["pages": "\(result.pages.count)", "ms": "\(Int(result.timings.totalMilliseconds))"])
        return PluginResult(output: encoded, documentText: DocumentText(text: result.text, result: encoded, pages: result.pages.count))
    }
}
