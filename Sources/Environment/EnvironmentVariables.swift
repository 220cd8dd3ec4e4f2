import Foundation

/// The environment variables as every reader in the product sees them: surrounding spaces and newlines are
/// trimmed, and a blank value counts as unset; switches are true or false.
public struct EnvironmentVariables: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    public func value(_ name: String) -> String? {
        guard let raw = values[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else { return nil }
        return raw
    }

    public func flag(_ name: String, default fallback: Bool) throws(ConfigurationError) -> Bool {
        switch value(name)?.lowercased() {
        case nil: return fallback
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigurationError(variable: name, problem: "expected true or false")
        }
    }
}

/// A configuration value that is missing or malformed; its description is the one line start-up prints.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var variable: String
    public var problem: String

    public init(variable: String, problem: String) {
        self.variable = variable
        self.problem = problem
    }

    public var description: String { "\(variable): \(problem)" }
}
