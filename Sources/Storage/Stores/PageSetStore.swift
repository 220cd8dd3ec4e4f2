import Foundation

/// Photos waiting to become documents (`PageSetRecord`), the same on every gateway sharing the store.
public protocol PageSetStore: Sendable {
    /// Adds a stored page to the set with `set.key`, creating the set with its first page; adding the same
    /// `sourceKey` again changes nothing. The set as stored and how many pages it holds.
    func addPage(_ item: PageSetItem, to set: PageSetRecord, now: Timestamp) async throws -> (set: PageSetRecord, pages: Int)
    /// Opens a `/merge` set for the user in the chat, or returns the one already open. Its result answers its first page.
    func openMergeSet(chatID: Int64, userID: Int64, languageCode: String?, now: Timestamp) async throws -> PageSetRecord
    /// The user's open `/merge` set in the chat, if any.
    func openMergeSet(chatID: Int64, userID: Int64) async throws -> PageSetRecord?
    /// No more pages: the set is assembled on the next sweep. False when there is no such open set.
    func closePageSet(id: Int64, now: Timestamp) async throws -> Bool
    /// Takes up to `limit` sets that are ready — albums quiet for `albumQuiet` seconds with no update of their
    /// chat still waiting to be handled (the album's next photo may be in it, its download slow), `/merge` sets
    /// closed or quiet for `mergeQuiet` — each for `leaseSeconds`, so that two gateways never assemble the same set.
    func claimReadyPageSets(albumQuiet: Double, mergeQuiet: Double, leaseSeconds: Double, limit: Int, now: Timestamp) async throws -> [PageSetRecord]
    /// The set's pages in the order they were sent.
    func pages(ofSet id: Int64) async throws -> [PageSetItem]
    /// The set is assembled: removes it and its pages.
    func removePageSet(id: Int64) async throws
    /// Whether any set still holds a page with this content (its stored file must stay).
    func isPagePending(sha256: String) async throws -> Bool
}
