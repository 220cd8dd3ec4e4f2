import CurlHTTP
import Foundation
import Logging
import OCR
import Plugins
import S3
import Storage

/// The composition root for the command-line tools: every dependency is built here from the
/// environment (SPEC §3), and nowhere else.
struct GatewayConfiguration {
    var dataDirectory: URL
    var ocr: OCRConfiguration
    var analyzer: String
    /// Archiving is on when `S3_BUCKET` is set.
    var s3: S3Configuration?

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
            analyzer: "local",
            s3: try s3(environment))
    }

    static func s3(_ environment: [String: String]) throws -> S3Configuration? {
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        guard let bucket = value("S3_BUCKET") else { return nil }
        var endpoint: URL?
        if let raw = value("S3_ENDPOINT") {
            guard let url = URL(string: raw), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ConfigurationError(variable: "S3_ENDPOINT", problem: "expected an http(s) URL")
            }
            endpoint = url
        }
        guard let access = value("S3_ACCESS_KEY_ID") ?? value("AWS_ACCESS_KEY_ID") else {
            throw ConfigurationError(variable: "S3_ACCESS_KEY_ID", problem: "required when S3_BUCKET is set (or AWS_ACCESS_KEY_ID)")
        }
        guard let secret = value("S3_SECRET_ACCESS_KEY") ?? value("AWS_SECRET_ACCESS_KEY") else {
            throw ConfigurationError(variable: "S3_SECRET_ACCESS_KEY", problem: "required when S3_BUCKET is set (or AWS_SECRET_ACCESS_KEY)")
        }
        let pathStyle: Bool
        switch value("S3_FORCE_PATH_STYLE")?.lowercased() {
        case nil, "false", "0", "no": pathStyle = false
        case "true", "1", "yes": pathStyle = true
        default: throw ConfigurationError(variable: "S3_FORCE_PATH_STYLE", problem: "expected true or false")
        }
        return S3Configuration(bucket: bucket, endpoint: endpoint, region: value("S3_REGION") ?? value("AWS_REGION") ?? "us-east-1",
                               prefix: value("S3_PREFIX") ?? "", forcePathStyle: pathStyle,
                               credentials: AWSCredentials(accessKeyID: access, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN")))
    }

    func reportArchiver(http: HTTPClient) -> ReportArchiver? {
        s3.map { ReportArchiver(client: S3Client(configuration: $0, http: http)) }
    }

    /// The pipeline's steps in order: ocr, analyze, and archive when S3 is configured.
    func plugins(pool: OCREnginePool, database: AppDatabase, http: HTTPClient) -> [any Plugin] {
        var plugins: [any Plugin] = [OCRPlugin(pool: pool, database: database), AnalyzePlugin(analyzer: makeAnalyzer())]
        if let s3 { plugins.append(ArchivePlugin(client: S3Client(configuration: s3, http: http))) }
        return plugins
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
