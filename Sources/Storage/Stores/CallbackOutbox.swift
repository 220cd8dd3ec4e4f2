import Foundation

/// The completion callbacks the API owes its clients, as a durable outbox: an event is recorded once when its
/// job (or its group) is over, then delivered at least once, retried with backoff until it is taken or its
/// time is up. Events are claimed by one sender at a time, so two gateways never post the same attempt.
public protocol CallbackOutbox: Sendable {
    /// Records an event for every job with a callback address that is over and has none yet, and for every API
    /// group whose jobs are all over since its last event; returns how many were recorded.
    func queueCallbackEvents(now: Timestamp) async throws -> Int
    /// Pending events that are due, each claimed for `leaseSeconds` (its attempt counted) so no other sender
    /// takes it meanwhile.
    func claimCallbacks(limit: Int, leaseSeconds: Double, now: Timestamp) async throws -> [CallbackRecord]
    /// Keeps the body of the first attempt, so every retry posts the same bytes; returns the body kept (another
    /// sender's, when one got there first).
    func keepCallbackPayload(id: Int64, payload: Data) async throws -> Data
    func callbackDelivered(id: Int64, now: Timestamp) async throws
    /// An attempt failed: due again at `retryAt`, or failed for good when nil.
    func callbackFailed(id: Int64, error: String, retryAt: Timestamp?, now: Timestamp) async throws
    /// A job's events (and its group's), oldest first.
    func callbacks(jobID: Int64) async throws -> [CallbackRecord]
    /// When the next pending event is due.
    func nextCallbackDue() async throws -> Timestamp?
}

public enum CallbackState: String, Codable, Sendable {
    case pending, delivered, failed
}

/// One event for one callback address.
public struct CallbackRecord: Sendable, Equatable {
    public var id: Int64
    /// What the receiver dedupes on: the same for every attempt.
    public var eventID: String
    /// "job.done", "job.failed" or "group.done".
    public var event: String
    public var jobID: Int64?
    public var jobCode: String?
    public var groupID: Int64?
    public var tokenID: Int64?
    public var url: String
    public var payload: Data?
    public var state: CallbackState
    public var attempts: Int
    public var nextAttemptAt: Timestamp
    public var lastError: String?
    public var createdAt: Timestamp
    public var deliveredAt: Timestamp?

    public init(id: Int64, eventID: String, event: String, jobID: Int64?, jobCode: String?, groupID: Int64?, tokenID: Int64?, url: String, payload: Data?,
                state: CallbackState, attempts: Int, nextAttemptAt: Timestamp, lastError: String?, createdAt: Timestamp, deliveredAt: Timestamp?) {
        self.id = id
        self.eventID = eventID
        self.event = event
        self.jobID = jobID
        self.jobCode = jobCode
        self.groupID = groupID
        self.tokenID = tokenID
        self.url = url
        self.payload = payload
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }
}
