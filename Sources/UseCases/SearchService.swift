import Foundation
import Storage

/// Full-text search over the requester's own documents (every document for an admin).
public protocol SearchService: Sendable {
    func search(_ words: String, for requester: Requester, limit: Int) async throws -> [SearchHit]
}

/// `SearchService` on the store's full-text index.
public struct StoreSearchService: SearchService {
    let documents: any DocumentStore

    public init(documents: any DocumentStore) {
        self.documents = documents
    }

    /// Each hit is named as the requester's chat uploaded it (the same bytes may have come from someone else first).
    public func search(_ words: String, for requester: Requester, limit: Int = 10) async throws -> [SearchHit] {
        try await documents.searchDocuments(words, owner: requester.isAdmin ? nil : .chat(requester.chatID), limit: limit)
    }
}
