import ArgumentParser
import Foundation
import Storage

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage the whitelist of Telegram users (admins from BOT_ADMIN_IDS are always allowed).",
        subcommands: [List.self, Add.self, Remove.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Everyone on the whitelist.")

        func run() async throws {
            let (database, _) = try await GatewayConfiguration.fromEnvironment().openStorage()
            let users = try await database.users()
            for user in users {
                print("\(user.id)  \(user.role.rawValue)  added \(Date(timeIntervalSince1970: user.createdAt).formatted(.iso8601))")
            }
            if users.isEmpty { print("nobody on the whitelist yet") }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Allow a Telegram user id (or change their role).")

        @Argument(help: "Numeric Telegram user id.")
        var id: Int64

        @Flag(help: "Make them an admin.")
        var admin = false

        func validate() throws {
            guard id > 0 else { throw ValidationError("a Telegram user id is a positive number") }
        }

        func run() async throws {
            let (database, _) = try await GatewayConfiguration.fromEnvironment().openStorage()
            try await database.allow(userID: id, role: admin ? .admin : .user, addedBy: nil)
            print("\(id) allowed\(admin ? " as admin" : "")")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a user off the whitelist.")

        @Argument(help: "Numeric Telegram user id.")
        var id: Int64

        func run() async throws {
            let (database, _) = try await GatewayConfiguration.fromEnvironment().openStorage()
            guard try await database.deny(userID: id) else { throw WorkFailed(message: "\(id) is not on the whitelist") }
            print("\(id) removed")
        }
    }
}
