import Foundation
import S3
import Storage

/// A document's copies in the bucket, as the `archive` step wrote them: removed when the document is
/// forgotten. Deleting an object that is not there is not an error.
public struct ArchivedCopies: Sendable {
    let client: S3Client

    public init(client: S3Client) {
        self.client = client
    }

    /// Deletes the original and the results; returns the keys asked to be removed.
    @discardableResult
    public func remove(_ document: DocumentRecord) async throws -> [String] {
        let keys = ArchivePlugin.objectKeys(of: document, client: client)
        for key in keys {
            try await client.deleteObject(key)
        }
        return keys
    }
}
