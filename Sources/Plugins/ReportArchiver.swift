import Foundation
import S3

/// Puts consolidated reports under `{S3_PREFIX}reports/` when archiving is on. Best effort: the report
/// is already on disk and with the user; a failed upload is reported, never fatal.
public struct ReportArchiver: Sendable {
    let client: S3Client

    public init(client: S3Client) {
        self.client = client
    }

    /// Uploads `file` as `reports/{name}`; returns the key.
    @discardableResult
    public func archive(_ file: URL, name: String) async throws -> String {
        let key = client.key("reports/\(name)")
        try await client.putObject(key, file: file.path, contentType: "text/markdown; charset=utf-8")
        return key
    }
}
