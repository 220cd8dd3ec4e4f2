import Foundation
import Logging
import OCR
import Storage

/// The `ocr` step: reads the document with the engine pool, or reuses the text of the same content
/// read before (documents are stored once by SHA-256, so a resent file is not OCRed twice). The text it
/// reads goes back with its result; the pipeline keeps it with the document. With `searchablePDFs` it also
/// writes the document as a searchable PDF, kept in the blob store and named in the result.
public struct OCRPlugin: Plugin {
    public static let stepName = StepOutput.ocrStep
    public var name: String { Self.stepName }

    /// The engines, started on first use: a batch that only enqueues never loads them.
    let engines: @Sendable () async throws -> OCREnginePool
    /// Where searchable PDFs are kept (`SEARCHABLE_PDF`); nil makes none.
    let searchablePDFs: BlobStore?

    public init(pool: OCREnginePool, searchablePDFs: BlobStore? = nil) {
        engines = { pool }
        self.searchablePDFs = searchablePDFs
    }

    public init(engines: @escaping @Sendable () async throws -> OCREnginePool, searchablePDFs: BlobStore? = nil) {
        self.engines = engines
        self.searchablePDFs = searchablePDFs
    }

    /// Reads a file as this step does, keeping its searchable PDF in `searchablePDFs` when given (the page sets'
    /// reading before an album is put together is the same reading, reused by the jobs that follow).
    public static func read(_ path: String, engines: OCREnginePool, searchablePDFs: BlobStore?, logger: Logger) async throws -> OCRResult {
        var result = try await engines.recognize(.file(path), searchablePDF: searchablePDFs != nil)
        if let searchablePDFs, let pdf = result.searchablePDF {
            // The text is what was asked for: a PDF that cannot be kept now is made again when someone asks for it.
            do {
                result.searchablePDFSHA256 = try await SearchablePDFs.keep(pdf, in: searchablePDFs)
            } catch {
                logger.warning("searchable PDF not kept", metadata: ["error": "\(error)"])
            }
        }
        return result
    }

    public func run(_ context: PluginContext) async throws -> PluginResult {
        if let cached = context.document.ocrResult {
            return PluginResult(output: cached, reused: true)
        }
        let result: OCRResult
        do {
            result = try await Self.read(context.documentPath, engines: engines(), searchablePDFs: searchablePDFs, logger: context.logger)
        } catch let error as OCRError {
            throw PluginError(error.isTransient ? .transient : .permanent, error.description)
        }
        let encoded = try JSONEncoder().encode(result)
        context.logger.debug("read", metadata: ["pages": "\(result.pages.count)", "ms": "\(Int(result.timings.totalMilliseconds))"])
        return PluginResult(output: encoded, documentText: DocumentText(text: result.text, result: encoded, pages: result.pages.count))
    }
}
