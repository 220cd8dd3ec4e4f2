import ArgumentParser
import Foundation
import Storage
import UseCases

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Manage the HTTP API's tokens: made here, shown once, stored hashed.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token; prints it and its callback signing secret once (neither can be shown again).")

        @Argument(help: "A name for the token (letters, digits, '.', '_', '-'), unique among live tokens.")
        var name: String

        @Option(help: "What it may do: upload, read, admin (comma-separated; admin sees every token's jobs and the stats).")
        var scope = "upload,read"

        @Option(help: "Requests per second it may make (default API_RATE_LIMIT).")
        var rateLimit: Double?

        @Option(help: "Documents per UTC day it may send (default API_DAILY_QUOTA).")
        var dailyQuota: Int?

        func validate() throws {
            guard let scopes = APIScope.parse(scope), !scopes.isEmpty else {
                throw ValidationError("--scope takes upload, read and admin, comma-separated")
            }
        }

        func run() async throws {
            let configuration = try GatewayConfiguration.fromEnvironment()
            let (database, _) = try await configuration.openStorage()
            let service = APITokenService(store: database)
            let issued: IssuedToken
            do {
                issued = try await service.create(name: name, scopes: APIScope.parse(scope) ?? [], rateLimit: rateLimit, dailyQuota: dailyQuota)
            } catch let refusal as APITokenService.Refusal {
                throw WorkFailed(message: refusal.description)
            } catch StorageError.invalid(let why) {
                throw WorkFailed(message: why)
            }
            let signing = try configuration.callbackSigner().signingSecret(for: issued.record)
            print("""
                token \(issued.record.name) (\(APIScope.list(issued.record.scopes))):
                  \(issued.secret)
                callback signing secret (verifies BotGateway-Signature on its callbacks):
                  \(signing)
                Keep both now: only their hashes are stored, they cannot be shown again.
                """)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every token: name, scopes, limits, last use (never the secret).")

        func run() async throws {
            let (database, _) = try await GatewayConfiguration.fromEnvironment().openStorage()
            let tokens = try await APITokenService(store: database).list()
            func time(_ value: Timestamp?) -> String { value.map { Date(timeIntervalSince1970: $0).formatted(.iso8601) } ?? "never" }
            for token in tokens {
                let limits = [token.rateLimit.map { "\($0.formatted()) req/s" }, token.dailyQuota.map { "\($0) docs/day" }].compactMap { $0 }
                print("\(token.name)  \(token.hint)…  \(APIScope.list(token.scopes))\(limits.isEmpty ? "" : "  " + limits.joined(separator: ", "))"
                      + "  created \(time(token.createdAt))  last used \(time(token.lastUsedAt))"
                      + (token.revokedAt.map { "  REVOKED \(time($0))" } ?? ""))
            }
            if tokens.isEmpty { print("no API tokens yet; make one with `botgateway tokens create NAME`") }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token at once: its next request is refused.")

        @Argument(help: "The token's name.")
        var name: String

        func run() async throws {
            let (database, _) = try await GatewayConfiguration.fromEnvironment().openStorage()
            guard try await APITokenService(store: database).revoke(name: name) else { throw WorkFailed(message: "no live token named \(name)") }
            print("\(name) revoked")
        }
    }
}
