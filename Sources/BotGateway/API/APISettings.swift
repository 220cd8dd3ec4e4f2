import Environment
import Foundation
import Plugins

/// The HTTP API's limits (`API_*` variables).
public struct APISettings: Sendable, Equatable {
    /// Requests per second per token when the token names none (`API_RATE_LIMIT`); bursts of twice that.
    public var rateLimit: Double
    /// Documents per token per UTC day when the token names none (`API_DAILY_QUOTA`).
    public var dailyQuota: Int
    /// The largest upload (`API_MAX_UPLOAD_MB`); Telegram's bot download limit by default.
    public var maxUploadBytes: Int64
    /// Callbacks may go to loopback and private addresses (`API_CALLBACK_ALLOW_PRIVATE`): for a receiver on
    /// the same network, never on a gateway reachable by strangers.
    public var callbackAllowPrivate: Bool
    /// How long an undelivered callback keeps being retried (`API_CALLBACK_HORIZON_HOURS`).
    public var callbackHorizon: Double
    /// Between callback attempts: 10 s doubling to an hour, or the receiver's `Retry-After`.
    public var callbackRetry: RetryPolicy

    public init(rateLimit: Double = 20, dailyQuota: Int = 5_000, maxUploadBytes: Int64 = 20_000_000, callbackAllowPrivate: Bool = false,
                callbackHorizon: Double = 48 * 3600,
                callbackRetry: RetryPolicy = RetryPolicy(maxAttempts: .max, baseDelay: 10, maxDelay: 3600, maxRetryAfter: 6 * 3600)) {
        self.rateLimit = rateLimit
        self.dailyQuota = dailyQuota
        self.maxUploadBytes = maxUploadBytes
        self.callbackAllowPrivate = callbackAllowPrivate
        self.callbackHorizon = callbackHorizon
        self.callbackRetry = callbackRetry
    }

    public static func fromEnvironment(_ environment: [String: String]) throws -> APISettings {
        let variables = EnvironmentVariables(environment)
        return APISettings(
            rateLimit: try GatewaySettings.number(variables.value, "API_RATE_LIMIT", default: 20, in: 0.01...100_000, unit: "requests per second"),
            dailyQuota: Int(try GatewaySettings.number(variables.value, "API_DAILY_QUOTA", default: 5_000, in: 0...100_000_000, unit: "documents")),
            maxUploadBytes: Int64(try GatewaySettings.number(variables.value, "API_MAX_UPLOAD_MB", default: 20, in: 0.001...2_000, unit: "megabytes") * 1_000_000),
            callbackAllowPrivate: try variables.flag("API_CALLBACK_ALLOW_PRIVATE", default: false),
            callbackHorizon: try GatewaySettings.number(variables.value, "API_CALLBACK_HORIZON_HOURS", default: 48, in: 24...720, unit: "hours") * 3600)
    }
}
