import Foundation
import NIOSSL
import PostgresNIO

/// `DATABASE_URL` as operators write it: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…]`, or a
/// Unix socket folder as `postgres://USER@/DATABASE?host=/run/postgresql`. The password never appears in
/// `description` or in any error.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public enum TLSMode: String, Sendable {
        case disable, prefer, require
    }

    public var host: String?
    public var socketFolder: String?
    public var port: Int
    public var user: String
    var password: String?
    public var database: String
    public var tls: TLSMode

    /// True for `postgres://` and `postgresql://` addresses: the store to use is PostgreSQL.
    public static func isPostgres(_ value: String) -> Bool {
        value.hasPrefix("postgres://") || value.hasPrefix("postgresql://")
    }

    public init(_ value: String) throws(DatabaseURLError) {
        guard Self.isPostgres(value), let components = URLComponents(string: value) else {
            throw .invalid("expected postgres://USER:PASSWORD@HOST:5432/DATABASE")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }) { _, last in last }
        socketFolder = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        host = components.host.flatMap { $0.isEmpty ? nil : $0 }
        guard host != nil || socketFolder != nil else { throw .invalid("names no host (postgres://USER@HOST/DATABASE)") }
        port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw .invalid("the port must be 1–65535") }
        guard let user = components.user?.removingPercentEncoding, !user.isEmpty else {
            throw .invalid("names no user (postgres://USER@HOST/DATABASE)")
        }
        self.user = user
        password = components.password?.removingPercentEncoding
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.removingPercentEncoding ?? path
        guard !database.isEmpty, !database.contains("/") else { throw .invalid("names no database (postgres://USER@HOST/DATABASE)") }
        // libpq's default is "prefer"; "verify-ca" and "verify-full" verify, as "require" does here.
        switch query["sslmode"] ?? "prefer" {
        case "disable": tls = .disable
        case "allow", "prefer": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        case let other: throw .invalid("sslmode \(other) is not one of disable, prefer, require, verify-full")
        }
    }

    /// Where and as whom, without the password.
    public var description: String {
        let place = socketFolder.map { "socket \($0)" } ?? "\(host ?? ""):\(port)"
        return "postgres://\(user)@\(place)/\(database)"
    }

    func clientConfiguration() throws(DatabaseURLError) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socketFolder {
            configuration = PostgresClient.Configuration(unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: user, password: password,
                                                         database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch self.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(.makeClientConfiguration())
            case .require: tls = .require(.makeClientConfiguration())
            }
            configuration = PostgresClient.Configuration(host: host ?? "localhost", port: port, username: user, password: password,
                                                         database: database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    /// The same address for one connection of its own (the first check at start, which fails fast and plainly).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        if let socketFolder {
            return PostgresConnection.Configuration(unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: user, password: password,
                                                    database: database)
        }
        let tls: PostgresConnection.Configuration.TLS
        switch self.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(host: host ?? "localhost", port: port, username: user, password: password,
                                                             database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}

public enum DatabaseURLError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let why): why
        }
    }
}
