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

/// One JSON object per line on stderr: what log shippers expect from a service.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (key, value) in metadata { fields[key] = "\(value)" }
        for (key, value) in event.metadata ?? [:] { fields[key] = "\(value)" }
        fields["ts"] = Date().formatted(.iso8601)
        fields["level"] = event.level.rawValue
        fields["logger"] = label
        fields["msg"] = "\(event.message)"
        guard var line = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        line.append(0x0A)
        FileHandle.standardError.write(line)
    }
}
