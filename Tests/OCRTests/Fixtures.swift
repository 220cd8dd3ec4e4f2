import Foundation
import Logging
import OCR
import TestSupport

/// Paths into the repository's fixtures/ and the built binaries, found from this file's location.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ name: String) -> String {
        root.appendingPathComponent("fixtures").appendingPathComponent(name).path
    }

    static func truth(_ name: String) throws -> String {
        let file = root.appendingPathComponent("fixtures/ground-truth").appendingPathComponent(URL(fileURLWithPath: name).lastPathComponent + ".txt")
        return try String(contentsOf: file, encoding: .utf8)
    }

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path(name)))
    }

    /// The `botgateway` binary built next to this test bundle (`swift build --build-tests` builds both).
    static var binary: String { ChildProcess.botgateway }

    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs `body` with a fresh pool and shuts the pool down whatever happens.
    @discardableResult
    static func withPool<T>(_ configuration: OCRConfiguration = OCRConfiguration(workers: 1),
                            _ body: (OCREnginePool) async throws -> T) async throws -> T {
        let pool = try await OCREnginePool(configuration: configuration, logger: quiet)
        do {
            let result = try await body(pool)
            await pool.shutdown()
            return result
        } catch {
            await pool.shutdown()
            throw error
        }
    }
}
