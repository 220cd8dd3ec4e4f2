import Crypto
import Foundation
import S3
import Storage

/// The `archive` step (when `S3_BUCKET` is set): the original under `{prefix}raw/{sha256}.{ext}` with its
/// name, job code and chat as metadata, and the results under `{prefix}processed/{sha256}/ocr.txt` and
/// `analysis.json`, and the searchable PDF the OCR step kept under `processed/{sha256}/searchable.pdf`. Idempotent: an object already there with the same SHA-256 is not uploaded again.
/// Deferrable: the answer does not wait for it, and a store that is down is retried for hours.
public struct ArchivePlugin: Plugin {
    public static let stepName = "archive"
    public var name: String { Self.stepName }
    public var isDeferrable: Bool { true }
    /// 14 attempts, 5 s doubling to 30 min between them: a blip is over in seconds, an outage of a few hours
    /// (about 2 h 40 min in all) costs nothing.
    public var retryPolicy: RetryPolicy? { RetryPolicy(maxAttempts: 14, baseDelay: 5, maxDelay: 1800) }

    let client: S3Client
    /// Where the OCR step keeps searchable PDFs; nil archives none.
    let blobs: BlobStore?

    public init(client: S3Client, blobs: BlobStore? = nil) {
        self.client = client
        self.blobs = blobs
    }

    public func run(_ context: PluginContext) async throws -> PluginResult {
        let document = context.document
        var objects: [[String: Any]] = []
        do {
            var metadata = ["sha256": document.sha256, "original-name": context.job.sourceName, "job-code": context.job.code]
            if let chat = context.job.chatID { metadata["chat-id"] = String(chat) }
            let raw = Self.originalKey(document, client: client)
            if try await alreadyThere(raw, sha256: document.sha256) {
                objects.append(["key": raw, "uploaded": false])
            } else {
                try await client.putObject(raw, file: context.documentPath, sha256: document.sha256, contentType: document.mimeType, metadata: metadata)
                objects.append(["key": raw, "uploaded": true])
            }
            var results: [(String, Data, String)] = []
            if let ocr = try context.ocrResult() { results.append(("ocr.txt", Data(ocr.text.utf8), "text/plain; charset=utf-8")) }
            if let analysis = context.analysisJSON { results.append(("analysis.json", analysis, "application/json")) }
            for (name, data, type) in results {
                let key = Self.resultKey(document.sha256, name, client: client)
                let hash = SHA256.hash(data: data).hexString
                if try await alreadyThere(key, sha256: hash) {
                    objects.append(["key": key, "uploaded": false])
                    continue
                }
                try await client.putObject(key, data: data, contentType: type, metadata: ["sha256": hash, "job-code": context.job.code])
                objects.append(["key": key, "uploaded": true])
            }
            if let blobs, let pdf = try context.ocrResult()?.searchablePDFSHA256 {
                let key = Self.resultKey(document.sha256, "searchable.pdf", client: client)
                // Any searchable PDF of this document will do: another reading of the same bytes differs only in
                // the PDF's creation date.
                if try await client.headObject(key) != nil {
                    objects.append(["key": key, "uploaded": false])
                } else {
                    let path = try await blobs.checkout(sha256: pdf)
                    try await client.putObject(key, file: path, sha256: pdf, contentType: "application/pdf",
                                               metadata: ["sha256": pdf, "job-code": context.job.code])
                    objects.append(["key": key, "uploaded": true])
                }
            }
        } catch let error as S3Error {
            throw PluginError(error.isTransient ? .transient : .permanent, "archiving to S3 failed: \(error)")
        }
        let output = try JSONSerialization.data(withJSONObject: ["objects": objects], options: [.sortedKeys])
        return PluginResult(output: output)
    }

    /// Where the original goes: `raw/{sha256}.{ext}`.
    static func originalKey(_ document: DocumentRecord, client: S3Client) -> String {
        let extensionName = document.format == "jpeg" ? "jpg" : (document.format == "tiff" ? "tif" : document.format)
        return client.key("raw/\(document.sha256).\(extensionName)")
    }

    /// Where a result goes: `processed/{sha256}/{name}`.
    static func resultKey(_ sha256: String, _ name: String, client: S3Client) -> String {
        client.key("processed/\(sha256)/\(name)")
    }

    /// Every object this step may have written for a document (they are per content, not per job).
    public static func objectKeys(of document: DocumentRecord, client: S3Client) -> [String] {
        [originalKey(document, client: client)] + ["ocr.txt", "analysis.json", "searchable.pdf"].map { resultKey(document.sha256, $0, client: client) }
    }

    private func alreadyThere(_ key: String, sha256: String) async throws -> Bool {
        guard let info = try await client.headObject(key) else { return false }
        return info.metadata["sha256"] == sha256
    }
}
