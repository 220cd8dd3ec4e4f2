import Foundation
import Hummingbird
import Logging
import Storage

/// `POST /telegram/webhook`: checks the secret, records the update in SQLite, and only then answers 200.
/// Processing is asynchronous (the update processor is nudged). Telegram resends anything not answered
/// 2xx, and the same `update_id` twice is recorded once.
struct WebhookController {
    /// Telegram's updates are a few KB; anything this large is not an update.
    static let maxBody = 1 << 20

    let secret: String
    let database: AppDatabase
    let arrived: Signal
    let logger: Logger

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("telegram/webhook") { request, _ -> Response in
            guard WebhookSecret.matches(request.headers[.init("X-Telegram-Bot-Api-Secret-Token")!], expected: secret) else {
                logger.warning("webhook call with a wrong or missing secret")
                return Response(status: .unauthorized)
            }
            let body = try await request.body.collect(upTo: Self.maxBody)
            let data = Data(buffer: body)
            guard let update = try? JSONDecoder().decode(UpdateRouting.self, from: data) else {
                logger.warning("webhook body is not a Telegram update", metadata: ["bytes": "\(data.count)"])
                return Response(status: .badRequest)
            }
            do {
                if try await database.recordUpdate(id: update.updateID, chatID: update.chatID, payload: data) {
                    arrived.fire()
                }
            } catch {
                // Not recorded: a non-2xx makes Telegram deliver it again.
                logger.error("could not record an update", metadata: ["update": "\(update.updateID)", "error": "\(error)"])
                return Response(status: .serviceUnavailable)
            }
            return Response(status: .ok)
        }
    }
}

/// `GET /healthz` (the process answers) and `GET /readyz` (the database answers and the data folder has room
/// for documents; OCR engines are up before the server starts listening).
struct HealthController {
    let database: AppDatabase
    let dataDirectory: URL
    let minimumFreeBytes: Int64

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            func notReady(_ why: String) -> Response {
                Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: why + "\n")))
            }
            do {
                _ = try await database.jobCounts()
            } catch {
                return notReady("database unavailable")
            }
            if let free = DiskSpace.available(at: dataDirectory), free < minimumFreeBytes {
                return notReady("low disk space: \(free / 1_000_000) MB free in the data folder, below BOT_MIN_FREE_MB (\(minimumFreeBytes / 1_000_000) MB)")
            }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
        }
    }
}
