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
    let inbox: any UpdateInbox
    let arrived: Nudge
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
                if try await inbox.recordUpdate(id: update.updateID, chatID: update.chatID, payload: data) {
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
