import Foundation
import Logging
import OCR

/// The OCR engine pool, started the first time a step needs it (a `batch --no-wait` never loads an engine) and
/// started once however many workers ask at the same time.
actor OCREngines {
    let configuration: OCRConfiguration
    let scratch: URL
    private var starting: Task<OCREnginePool, any Error>?

    init(configuration: OCRConfiguration, scratch: URL) {
        self.configuration = configuration
        self.scratch = scratch
    }

    func pool() async throws -> OCREnginePool {
        if let starting { return try await starting.value }
        let task = Task { [configuration, scratch] in
            try await OCREnginePool(configuration: configuration, scratchDirectory: scratch, logger: Logger(label: "ocr"))
        }
        starting = task
        return try await task.value
    }

    /// Finishes running documents and stops the engines, if they were started.
    func shutdown() async {
        guard let pool = try? await starting?.value else { return }
        await pool.shutdown()
    }
}
