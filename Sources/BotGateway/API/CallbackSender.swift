import CurlHTTP
import Foundation
import Logging
import Plugins
import ServiceLifecycle
import Storage
import UseCases

/// Delivers completion callbacks from the durable outbox: records an event when a job (or an API group) is
/// over, POSTs it signed to its callback URL, and retries what was not taken with backoff until the horizon
/// (48 h by default). At least once: a receiver dedupes on the event id, the same on every attempt, with the
/// same body. The address is checked again at every attempt and the connection goes to the address checked.
struct CallbackSender: Service {
    let outbox: any CallbackOutbox
    let documents: any DocumentStore
    let tokens: any APIStore
    let http: HTTPClient
    let signer: CallbackSigner
    let settings: APISettings
    let answerStep: String
    let finished: Nudge
    let logger: Logger
    /// How long an attempt may take.
    var timeout: Duration = .seconds(15)
    static let batch = 16
    static let leaseSeconds = 120.0

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var busy = false
                do {
                    _ = try await outbox.queueCallbackEvents(now: .now)
                    let due = try await outbox.claimCallbacks(limit: Self.batch, leaseSeconds: Self.leaseSeconds, now: .now)
                    busy = due.count == Self.batch
                    // The tokens once for the batch (they sign it), not once per event.
                    let signers = due.isEmpty ? [:] : Dictionary(try await tokens.apiTokens().compactMap { token in token.id.map { ($0, token) } },
                                                                uniquingKeysWith: { first, _ in first })
                    await withTaskGroup(of: Void.self) { group in
                        for record in due { group.addTask { await deliver(record, token: record.tokenID.flatMap { signers[$0] }) } }
                    }
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("could not deliver callbacks", metadata: ["error": "\(error)"])
                }
                if !busy { await finished.wait(timeout: .seconds(1)) }
            }
        }
    }

    /// One attempt at one event, signed for `token` (the one that asked for it); the outcome recorded.
    func deliver(_ record: CallbackRecord, token: APITokenRecord?) async {
        let metadata: Logger.Metadata = ["event": "\(record.eventID)", "type": "\(record.event)", "attempt": "\(record.attempts)"]
        do {
            guard let body = try await body(record) else {
                try await outbox.callbackFailed(id: record.id, error: "its job was forgotten before the callback went out", retryAt: nil, now: .now)
                return
            }
            guard let token, !token.isRevoked else {
                try await outbox.callbackFailed(id: record.id, error: "the token that asked for it was revoked", retryAt: nil, now: .now)
                return
            }
            let outcome = await post(body, for: record, token: token)
            switch outcome {
            case .delivered:
                try await outbox.callbackDelivered(id: record.id, now: .now)
                logger.info("callback delivered", metadata: metadata)
            case .refused(let why):
                try await outbox.callbackFailed(id: record.id, error: why, retryAt: nil, now: .now)
                logger.warning("callback refused for good", metadata: metadata.merging(["reason": "\(why)"]) { $1 })
            case .retry(let why, let retryAfter):
                let next = Date().timeIntervalSince1970 + settings.callbackRetry.delay(afterAttempt: record.attempts, retryAfter: retryAfter)
                if next > record.createdAt + settings.callbackHorizon {
                    try await outbox.callbackFailed(id: record.id, error: "undelivered for \(Int(settings.callbackHorizon / 3600)) hours: \(why)",
                                                    retryAt: nil, now: .now)
                    logger.error("callback given up", metadata: metadata.merging(["reason": "\(why)"]) { $1 })
                } else {
                    try await outbox.callbackFailed(id: record.id, error: why, retryAt: next, now: .now)
                    logger.warning("callback not taken; will retry", metadata: metadata.merging(["reason": "\(why)", "in": "\(Int(next - Date().timeIntervalSince1970)) s"]) { $1 })
                }
            }
        } catch {
            // Not recorded: the claim runs out and the event is tried again.
            logger.error("callback outcome not recorded", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    enum Outcome: Equatable {
        case delivered
        case refused(String)
        case retry(String, retryAfter: Double?)
    }

    private func post(_ body: Data, for record: CallbackRecord, token: APITokenRecord) async -> Outcome {
        let address: CallbackAddress
        do {
            address = try await CallbackAddress.check(record.url, allowPrivate: settings.callbackAllowPrivate)
        } catch let refusal as CallbackAddress.Refusal {
            if case .unresolvable = refusal { return .retry(refusal.description, retryAfter: nil) }
            return .refused(refusal.description)
        } catch {
            return .retry("\(error)", retryAfter: nil)
        }
        let time = Int(Date().timeIntervalSince1970)
        var request = HTTPClientRequest(method: "POST", url: record.url, headers: [
            ("Content-Type", "application/json"),
            ("BotGateway-Event-Id", record.eventID),
            ("BotGateway-Event", record.event),
            ("BotGateway-Signature", signer.signature(body: body, time: time, for: token)),
        ], body: .data(body), timeout: timeout, connectTimeout: .seconds(5), maxResponseBytes: 64 * 1024)
        request.resolve = [address.resolveEntry]
        do {
            let response = try await http.send(request)
            switch response.status {
            case 200..<300: return .delivered
            // The receiver says the address is gone for good.
            case 410: return .refused("the receiver answered 410 Gone")
            default: return .retry("the receiver answered \(response.status)", retryAfter: response.retryAfter)
            }
        } catch {
            return .retry("\(error)", retryAfter: nil)
        }
    }

    /// The event's body: made at the first attempt and kept, so every attempt sends the same bytes.
    private func body(_ record: CallbackRecord) async throws -> Data? {
        if let payload = record.payload { return payload }
        var event = APIModels.CallbackEvent(id: record.eventID, type: record.event, created_at: APIModels.time(record.createdAt) ?? "")
        if let code = record.jobCode {
            guard let details = try await documents.jobDetails(code: code) else { return nil }
            event.job = APIModels.Job(details, answerStep: answerStep)
        } else if let groupID = record.groupID {
            let jobs = try await documents.jobDetails(groupID: groupID)
            guard !jobs.isEmpty else { return nil }
            event.group = APIModels.GroupDone(id: groupID, jobs: jobs.map { APIModels.JobSummary($0.job) }, report: "/api/v1/groups/\(groupID)/report")
        }
        return try await outbox.keepCallbackPayload(id: record.id, payload: try JSONEncoder.api.encode(event))
    }
}
