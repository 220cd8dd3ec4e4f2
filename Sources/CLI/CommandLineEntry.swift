import ArgumentParser
import Environment
import Foundation
import OCR

/// Parses arguments and maps every outcome onto the documented exit codes:
/// 0 success, 1 the work failed, 2 bad usage or configuration.
enum CommandLineEntry {
    static func run() async {
        do {
            var command = try RootCommand.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("botgateway: \(error)\n".utf8))
            exit(2)
        } catch let error as WorkFailed {
            if !error.message.isEmpty { FileHandle.standardError.write(Data("botgateway: \(error.message)\n".utf8)) }
            exit(1)
        } catch {
            let code = RootCommand.exitCode(for: error)
            if code == .success || code.rawValue == 1 {
                RootCommand.exit(withError: error)
            }
            FileHandle.standardError.write(Data((RootCommand.fullMessage(for: error) + "\n").utf8))
            exit(2)
        }
    }
}

/// The command ran but some of its work failed (exit code 1).
struct WorkFailed: Error {
    var message: String = ""
}

struct RootCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "botgateway",
        abstract: "A self-hosted Telegram bot that turns photos, scans and PDFs into answers.",
        discussion: "Configuration comes from environment variables (see README); flags override them.",
        subcommands: [ServeCommand.self, WorkerCommand.self, BatchCommand.self, OCRCommand.self, ExportCommand.self, UsersCommand.self, TokensCommand.self, DashboardLinkCommand.self, SubmitCommand.self, JobsCommand.self, WebhookCommand.self, DoctorCommand.self]
    )
}
