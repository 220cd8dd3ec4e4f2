import BotGateway
import Environment
import Foundation
import Logging
import OCR

/// Bootstraps swift-log once from LOG_FORMAT (text|json; text on a TTY by default) and LOG_LEVEL.
enum LogSetup {
    static func bootstrap(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) {
        let level: Logger.Level
        if let raw = environment["LOG_LEVEL"], !raw.isEmpty {
            guard let parsed = Logger.Level(rawValue: raw.lowercased()) else {
                throw ConfigurationError(variable: "LOG_LEVEL", problem: "expected one of trace, debug, info, notice, warning, error, critical")
            }
            level = parsed
        } else {
            level = .info
        }
        let json: Bool
        switch environment["LOG_FORMAT"]?.lowercased() {
        case nil, "": json = isatty(STDERR_FILENO) == 0
        case "json": json = true
        case "text": json = false
        default: throw ConfigurationError(variable: "LOG_FORMAT", problem: "expected text or json")
        }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
