import CurlHTTP
import Foundation
import Environment
import OCR
import UseCases

/// What `serve` needs from the environment (SPEC §3). A missing or malformed value is a
/// `ConfigurationError` naming the variable; the token is never part of any message.
public struct GatewaySettings: Sendable, Redacted {
    public var token: String
    public var apiBaseURL: String
    public var webhookSecret: String?
    public var adminIDs: Set<Int64>
    public var host: String
    public var port: Int
    public var dataDirectory: URL
    /// The Bot API's download limit for bots is 20 MB; a local Bot API server has none (2 GB here).
    public var downloadLimit: Int64
    /// How long replies keep being retried while Telegram is unreachable.
    public var replyDelivery: ReplyDelivery
    /// `/readyz` answers 503 while the data folder has less free space than this (`BOT_MIN_FREE_MB`).
    public var minimumFreeBytes: Int64
    /// The HTTP API's limits and callback rules.
    public var api: APISettings
    /// Where people reach this server (`BOT_PUBLIC_URL`), for the dashboard's sign-in links; nil: `http://HOST:PORT`.
    public var publicURL: String?
    /// How long a dashboard session lasts (`DASHBOARD_SESSION_HOURS`).
    public var dashboardSessionLifetime: Double
    /// `/ask` questions per user and UTC day (`ASK_DAILY_LIMIT`); 0 turns `/ask` off.
    public var askDailyLimit: Int

    public init(token: String, apiBaseURL: String = "https://api.telegram.org", webhookSecret: String?, adminIDs: Set<Int64>,
                host: String = "127.0.0.1", port: Int = 8080, dataDirectory: URL, downloadLimit: Int64? = nil,
                replyDelivery: ReplyDelivery = ReplyDelivery(), minimumFreeBytes: Int64 = 200_000_000, api: APISettings = APISettings(),
                publicURL: String? = nil, dashboardSessionLifetime: Double = 12 * 3600, askDailyLimit: Int = 30) {
        self.token = token
        self.apiBaseURL = apiBaseURL
        self.webhookSecret = webhookSecret
        self.adminIDs = adminIDs
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.downloadLimit = downloadLimit ?? (Self.isTelegram(apiBaseURL) ? 20_000_000 : 2_000_000_000)
        self.replyDelivery = replyDelivery
        self.minimumFreeBytes = minimumFreeBytes
        self.api = api
        self.publicURL = publicURL
        self.dashboardSessionLifetime = dashboardSessionLifetime
        self.askDailyLimit = askDailyLimit
    }

    /// The address the dashboard's links start with.
    public var dashboardBaseURL: String {
        publicURL ?? Self.listeningURL(host: host, port: port)
    }

    /// `http://HOST:PORT` as this server listens (the public address when `BOT_PUBLIC_URL` is not set).
    public static func listeningURL(host: String, port: Int) -> String {
        "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    public var redactedDescription: String {
        "GatewaySettings(api: \(URL(string: apiBaseURL)?.host ?? "?"), token redacted, webhook secret \(webhookSecret == nil ? "unset" : "redacted"), "
            + "admins: \(adminIDs.sorted()), listen: \(host):\(port), data: \(dataDirectory.path))"
    }

    /// Any base URL other than Telegram's own is taken for a local Bot API server (no download limit, files
    /// handed over as paths on its disk).
    public static func isTelegram(_ baseURL: String) -> Bool {
        URL(string: baseURL)?.host?.lowercased() == "api.telegram.org"
    }

    public static func fromEnvironment(_ environment: [String: String], dataDirectory: URL, requireSecret: Bool) throws -> GatewaySettings {
        let value = EnvironmentVariables(environment).value
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
        let admins = try adminIDs(environment)
        let host = Self.host(environment)
        let port = try port(environment)
        let delivery = ReplyDelivery(maxBackoff: try number(value, "BOT_REPLY_MAX_BACKOFF_SECONDS", default: 300, in: 0.05...3600, unit: "seconds"),
                                     horizon: try number(value, "BOT_REPLY_HORIZON_HOURS", default: 24, in: 0.001...720, unit: "hours") * 3600)
        let publicURL = try publicURL(environment)
        return GatewaySettings(token: token, apiBaseURL: base, webhookSecret: secret, adminIDs: admins, host: host, port: port,
                               dataDirectory: dataDirectory, replyDelivery: delivery, minimumFreeBytes: try minimumFreeBytes(environment),
                               api: try APISettings.fromEnvironment(environment), publicURL: publicURL,
                               dashboardSessionLifetime: try number(value, "DASHBOARD_SESSION_HOURS", default: 12, in: 0.01...720, unit: "hours") * 3600,
                               askDailyLimit: try askDailyLimit(environment))
    }

    /// `BOT_ADMIN_IDS`: the admins no command can remove.
    public static func adminIDs(_ environment: [String: String]) throws -> Set<Int64> {
        var admins: Set<Int64> = []
        for part in (EnvironmentVariables(environment).value("BOT_ADMIN_IDS") ?? "").split(separator: ",") {
            guard let id = Int64(part.trimmingCharacters(in: .whitespaces)), id > 0 else {
                throw ConfigurationError(variable: "BOT_ADMIN_IDS", problem: "expected comma-separated numeric Telegram user ids")
            }
            admins.insert(id)
        }
        return admins
    }

    /// `BOT_PORT`; 0 asks for any free port (the log line "serving" says which).
    public static func port(_ environment: [String: String]) throws -> Int {
        guard let raw = EnvironmentVariables(environment).value("BOT_PORT") else { return 8080 }
        guard let parsed = Int(raw), (0...65535).contains(parsed) else {
            throw ConfigurationError(variable: "BOT_PORT", problem: "expected a port number from 0 to 65535")
        }
        return parsed
    }

    /// `BOT_PUBLIC_URL`: where people reach this server (the dashboard's links start with it).
    public static func publicURL(_ environment: [String: String]) throws -> String? {
        guard let publicURL = EnvironmentVariables(environment).value("BOT_PUBLIC_URL") else { return nil }
        guard let url = URL(string: publicURL), url.scheme == "http" || url.scheme == "https", url.host != nil, url.query == nil else {
            throw ConfigurationError(variable: "BOT_PUBLIC_URL", problem: "expected the http(s) address people reach this server at, e.g. https://bot.example.com")
        }
        return publicURL
    }

    /// `ASK_DAILY_LIMIT`: `/ask` questions per user and UTC day (30 when unset; 0 turns `/ask` off).
    public static func askDailyLimit(_ environment: [String: String]) throws -> Int {
        guard let raw = EnvironmentVariables(environment).value("ASK_DAILY_LIMIT") else { return 30 }
        guard let limit = Int(raw), (0...100_000).contains(limit) else {
            throw ConfigurationError(variable: "ASK_DAILY_LIMIT", problem: "expected a whole number of questions per user and day, 0 to 100000 (0 turns /ask off)")
        }
        return limit
    }

    /// `BOT_HOST`: where `serve` and `worker` listen.
    public static func host(_ environment: [String: String]) -> String {
        EnvironmentVariables(environment).value("BOT_HOST") ?? "127.0.0.1"
    }

    /// `BOT_MIN_FREE_MB`, the free space below which `/readyz` says not ready, on `serve` and `worker` alike.
    public static func minimumFreeBytes(_ environment: [String: String]) throws -> Int64 {
        Int64(try number(EnvironmentVariables(environment).value, "BOT_MIN_FREE_MB", default: 200, in: 0...1_000_000, unit: "megabytes") * 1_000_000)
    }

    static func number(_ value: (String) -> String?, _ name: String, default fallback: Double, in range: ClosedRange<Double>,
                               unit: String) throws -> Double {
        guard let raw = value(name) else { return fallback }
        guard let parsed = Double(raw), range.contains(parsed) else {
            throw ConfigurationError(variable: name, problem: "expected \(unit) from \(range.lowerBound.formatted()) to \(range.upperBound.formatted())")
        }
        return parsed
    }
}

/// The webhook's secret check: a pure function, constant time in the secret's length.
public enum WebhookSecret {
    public static func matches(_ presented: String?, expected: String) -> Bool {
        guard let presented else { return false }
        return Secrets.equal(presented, expected)
    }
}
