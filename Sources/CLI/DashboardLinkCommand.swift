import ArgumentParser
import BotGateway
import Foundation
import Storage
import UseCases

/// The first admin's way in: a sign-in link made on the server itself (later, `/dashboard` in the bot).
struct DashboardLinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard-link",
        abstract: "Print a single-use sign-in link for the web dashboard (valid 10 minutes).")

    @Option(help: "The admin's Telegram user id (default: the first of BOT_ADMIN_IDS).")
    var user: Int64?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let configuration = try GatewayConfiguration.fromEnvironment()
        let admins = try GatewaySettings.adminIDs(environment)
        guard let userID = user ?? admins.min() else {
            throw WorkFailed(message: "no admin to sign in: set BOT_ADMIN_IDS or name one with --user")
        }
        let (database, _) = try await configuration.openStorage()
        let base = try GatewaySettings.publicURL(environment)
            ?? GatewaySettings.listeningURL(host: GatewaySettings.host(environment), port: try GatewaySettings.port(environment))
        let access = DashboardAccess(store: database, whitelist: StoreWhitelistService(adminIDs: admins, store: database),
                                     key: try configuration.callbackSigner().derivedKey(for: "dashboard-session"), baseURL: base)
        do {
            print(try await access.signInLink(for: userID))
        } catch let refusal as DashboardAccess.Refusal {
            throw WorkFailed(message: "\(userID): \(refusal.description)")
        }
    }
}
