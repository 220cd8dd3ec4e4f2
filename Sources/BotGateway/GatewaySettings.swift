import Foundation
import OCR

/// What `serve` needs from the environment (SPEC §3). A missing or malformed value is a
/// `ConfigurationError` naming the variable; the token is never part of any message.
public struct GatewaySettings: Sendable {
    public var token: String
    public var apiBaseURL: String
    public var webhookSecret: String?
    public var adminIDs: Set<Int64>
    public var host: String
    public var port: Int
    public var dataDirectory: URL
    /// The Bot API's download limit for bots is 20 MB; a local Bot API server has none (2 GB here).
    public var downloadLimit: Int64

    public init(token: String, apiBaseURL: String = "https://api.telegram.org", webhookSecret: String?, adminIDs: Set<Int64>,
                host: String = "127.0.0.1", port: Int = 8080, dataDirectory: URL, downloadLimit: Int64? = nil) {
        self.token = token
        self.apiBaseURL = apiBaseURL
        self.webhookSecret = webhookSecret
        self.adminIDs = adminIDs
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        // Any base URL other than Telegram's own is taken for a local Bot API server.
        self.downloadLimit = downloadLimit ?? (apiBaseURL.contains("api.telegram.org") ? 20_000_000 : 2_000_000_000)
    }

    public static func fromEnvironment(_ environment: [String: String], dataDirectory: URL, requireSecret: Bool) throws -> GatewaySettings {
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        guard let token = value("TELEGRAM_BOT_TOKEN") else {
            throw ConfigurationError(variable: "TELEGRAM_BOT_TOKEN", problem: "required by serve (the token @BotFather gave you)")
        }
        guard token.contains(":"), !token.contains("/"), !token.contains(" ") else {
            throw ConfigurationError(variable: "TELEGRAM_BOT_TOKEN", problem: "malformed; expected 123456:ABC… as @BotFather gives it")
        }
        let base = value("TELEGRAM_API_BASE_URL") ?? "https://api.telegram.org"
        guard let url = URL(string: base), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ConfigurationError(variable: "TELEGRAM_API_BASE_URL", problem: "expected an http(s) URL")
        }
        let secret = value("TELEGRAM_WEBHOOK_SECRET")
        if let secret {
            let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
            guard (1...256).contains(secret.count), secret.unicodeScalars.allSatisfy(allowed.contains) else {
                throw ConfigurationError(variable: "TELEGRAM_WEBHOOK_SECRET", problem: "1–256 characters of A-Z, a-z, 0-9, _ and -")
            }
        } else if requireSecret {
            throw ConfigurationError(variable: "TELEGRAM_WEBHOOK_SECRET", problem: "required in webhook mode (or run serve --poll)")
        }
        var admins: Set<Int64> = []
        for part in (value("BOT_ADMIN_IDS") ?? "").split(separator: ",") {
            guard let id = Int64(part.trimmingCharacters(in: .whitespaces)), id > 0 else {
                throw ConfigurationError(variable: "BOT_ADMIN_IDS", problem: "expected comma-separated numeric Telegram user ids")
            }
            admins.insert(id)
        }
        let host = value("BOT_HOST") ?? "127.0.0.1"
        let port: Int
        if let raw = value("BOT_PORT") {
            // 0 asks for any free port (the log line "serving" says which).
            guard let parsed = Int(raw), (0...65535).contains(parsed) else {
                throw ConfigurationError(variable: "BOT_PORT", problem: "expected a port number from 0 to 65535")
            }
            port = parsed
        } else {
            port = 8080
        }
        return GatewaySettings(token: token, apiBaseURL: base, webhookSecret: secret, adminIDs: admins, host: host, port: port,
                               dataDirectory: dataDirectory)
    }
}

/// The webhook's secret check: a pure function, constant time in the secret's length.
public enum WebhookSecret {
    public static func matches(_ presented: String?, expected: String) -> Bool {
        guard let presented else { return false }
        let a = Array(presented.utf8), b = Array(expected.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<b.count {
            difference |= b[index] ^ (index < a.count ? a[index] : 0)
        }
        return difference == 0
    }
}
