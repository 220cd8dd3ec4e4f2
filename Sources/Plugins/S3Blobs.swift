import CurlHTTP
import Foundation
import S3
import Storage

/// `BLOB_STORE=s3`: documents under `{S3_PREFIX}blobs/{sha256[0..2]}/{sha256}` in the `S3_*` bucket, the
/// store every gateway and worker reads. Errors become `StorageError`s that say whether waiting helps.
public struct S3Blobs: RemoteBlobs {
    let client: S3Client

    public init(client: S3Client) {
        self.client = client
    }

    public var location: String {
        let endpoint = client.configuration.endpoint.map { " at \($0.host ?? "?")\($0.port.map { ":\($0)" } ?? "")" } ?? ""
        return "s3://\(client.configuration.bucket)/\(client.key("blobs/"))\(endpoint)"
    }

    func key(_ sha256: String) -> String {
        client.key("blobs/\(sha256.prefix(2))/\(sha256)")
    }

    public func contains(sha256: String, size: Int64) async throws(StorageError) -> Bool {
        try await mapped(sha256) { try await client.headObject(key(sha256)).map { $0.size == size } ?? false }
    }

    public func upload(file path: String, sha256: String, size: Int64, contentType: String) async throws(StorageError) {
        try await mapped(sha256) {
            try await client.putObject(key(sha256), file: path, sha256: sha256, contentType: contentType, metadata: ["sha256": sha256])
        }
    }

    public func download(sha256: String, to path: String, maxBytes: Int64) async throws(StorageError) {
        _ = try await mapped(sha256) { try await client.getObject(key(sha256), to: path, maxBytes: maxBytes) }
    }

    public func delete(sha256: String) async throws(StorageError) {
        try await mapped(sha256) { try await client.deleteObject(key(sha256)) }
    }

    public func check() async throws(StorageError) {
        try await mapped("a probe object") { try await client.probe("blobs/.doctor-\(UUID().uuidString)") }
    }

    /// S3's answers as the blob store's errors: 404 is a document that is not there; a body over the cap is
    /// refused for good; everything else is the store being unavailable, which the pipeline retries.
    private func mapped<T: Sendable>(_ what: String, _ work: () async throws -> T) async throws(StorageError) -> T {
        do {
            return try await work()
        } catch let error as S3Error {
            switch error {
            case .service(404, let code, _) where code != "NoSuchBucket":
                throw .notFound("document \(what.prefix(12)) in \(location)")
            case .transport(.responseTooLarge(_, let limit)):
                throw .invalid("the document is larger than \(limit) bytes")
            default:
                throw .blobUnavailable(path: location, reason: error.description)
            }
        } catch {
            throw .blobUnavailable(path: location, reason: "\(error)")
        }
    }
}
