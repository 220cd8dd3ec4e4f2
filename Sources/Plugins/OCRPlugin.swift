import Foundation
import OCR
import Storage

/// The `ocr` step: reads the document with the engine pool, or reuses the text of the same content
/// read before (documents are stored once by SHA-256, so a resent file is not OCRed twice).
public struct OCRPlugin: Plugin {
    public static let stepName = "ocr"
    public var name: String { Self.stepName }

    let pool: OCREnginePool
    let database: AppDatabase

    public init(pool: OCREnginePool, database: AppDatabase) {
        self.pool = pool
        self.database = database
    }

    public func run(_ context: PluginContext) async throws -> PluginResult {
        if let cached = try await database.document(sha256: context.document.sha256)?.ocrResult {
            return PluginResult(output: cached, reused: true)
        }
        let result: OCRResult
        do {
            result = try await pool.recognize(.file(context.documentPath))
        } catch let error as OCRError {
            throw PluginError(error.isTransient ? .transient : .permanent, error.description)
        }
        let encoded = try JSONEncoder().encode(result)
        try await database.saveOCR(sha256: context.document.sha256, text: result.text, result: encoded, pages: result.pages.count)
        context.logger.debug("read", metadata: ["pages": "\(result.pages.count)", "ms": "\(Int(result.timings.totalMilliseconds))"])
        return PluginResult(output: encoded)
    }
}
