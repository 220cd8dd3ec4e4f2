import Foundation
import Logging
import OCR
import Plugins
import Storage

/// The composition root for the command-line tools: every dependency is built here from the
/// environment (SPEC §3), and nowhere else.
struct GatewayConfiguration {
    var dataDirectory: URL
    var ocr: OCRConfiguration
    var analyzer: String

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> GatewayConfiguration {
        let data = environment["BOT_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "./data"
        let analyzer = (environment["ANALYZER"] ?? "").lowercased()
        switch analyzer {
        case "", "local": break
        case "claude", "openai":
            throw ConfigurationError(variable: "ANALYZER", problem: "'\(analyzer)' is not available in this build yet; use local")
        default:
            throw ConfigurationError(variable: "ANALYZER", problem: "expected claude, openai or local")
        }
        return GatewayConfiguration(
            dataDirectory: URL(fileURLWithPath: data).standardizedFileURL,
            ocr: try OCRConfiguration.fromEnvironment(environment),
            analyzer: "local")
    }

    /// The data folder, created on first use; a folder that cannot be created is a configuration error.
    func openStorage() throws -> (AppDatabase, BlobStore) {
        do {
            try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ConfigurationError(variable: "BOT_DATA_DIR", problem: "cannot create \(dataDirectory.path): \(error.localizedDescription)")
        }
        let blobs = try BlobStore(dataDirectory: dataDirectory)
        blobs.removeLeftovers()
        let database = try AppDatabase(path: dataDirectory.appendingPathComponent("botgateway.sqlite").path)
        return (database, blobs)
    }

    func makeAnalyzer() -> any Analyzer {
        LocalAnalyzer()
    }

    var reportsDirectory: URL { dataDirectory.appendingPathComponent("reports") }
}
