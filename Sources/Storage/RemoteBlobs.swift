/// Where documents live when several machines read them (`BLOB_STORE=s3`): every node's `BlobStore` writes
/// through to it and reads from it what its own disk does not have. Objects are named by the document's
/// SHA-256, so writing the same content twice is one object.
///
/// Implementations throw `StorageError`: `.notFound` for a document that is not there (permanent: no retry
/// brings it back), `.blobUnavailable` for everything that may pass (the store down, a timeout).
public protocol RemoteBlobs: Sendable {
    /// Where the documents are, for `doctor` and logs; never a credential.
    var location: String { get }
    /// True when the document is already there with this size.
    func contains(sha256: String, size: Int64) async throws(StorageError) -> Bool
    func upload(file path: String, sha256: String, size: Int64, contentType: String) async throws(StorageError)
    /// Streams the document to `path`; refuses more than `maxBytes`.
    func download(sha256: String, to path: String, maxBytes: Int64) async throws(StorageError)
    /// A document already gone is fine.
    func delete(sha256: String) async throws(StorageError)
    /// Writes, reads back and deletes a small probe object: what `doctor` runs.
    func check() async throws(StorageError)
}
