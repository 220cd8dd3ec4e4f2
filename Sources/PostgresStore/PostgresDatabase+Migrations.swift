import Foundation
import PostgresNIO
import Storage

extension PostgresDatabase: StoreSchema {
    /// Applies the migrations this version knows and the database lacks, under an advisory lock so two
    /// processes starting at once (a gateway and its workers) migrate once. A database that holds a migration
    /// this version does not know was set up by a newer one: refused, untouched.
    func migrate() async throws {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: self.logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migration (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at double precision NOT NULL)
                """, logger: self.logger)
            let applied = try await Self.applied(connection, logger: self.logger)
            let known = Set(PostgresSchema.migrations.map(\.version))
            let unknown = applied.filter { !known.contains($0.version) }.map(\.name)
            guard unknown.isEmpty else { throw StorageError.newerSchema(unknown) }
            let done = Set(applied.map(\.version))
            for migration in PostgresSchema.migrations where !done.contains(migration.version) {
                for statement in Self.statements(migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                try await connection.query("INSERT INTO schema_migration (version, name, applied_at) VALUES (\(migration.version), \(migration.name), \(Timestamp.now))",
                                           logger: self.logger)
            }
        }
    }

    public var location: String { url.description }

    public func migrationNames() async throws -> [String] {
        try await appliedMigrations()
    }

    /// Names of the migrations applied, oldest first (for `doctor` and tests).
    public func appliedMigrations() async throws -> [String] {
        try await connection { connection in try await Self.applied(connection, logger: self.logger).map(\.name) }
    }

    /// The key of the advisory lock held while migrating ("botgw" in ASCII).
    static let migrationLock: Int64 = 0x626F_7467_77

    private static func applied(_ connection: PostgresConnection, logger: Logger) async throws -> [(version: Int, name: String)] {
        var applied: [(version: Int, name: String)] = []
        for try await (version, name) in try await connection.query("SELECT version, name FROM schema_migration ORDER BY version", logger: logger)
            .decode((Int, String).self) {
            applied.append((version, name))
        }
        return applied
    }

    /// A migration's statements, one by one (the extended protocol runs one at a time). Statements end with
    /// a semicolon at the end of a line; comments hold none.
    static func statements(_ sql: String) -> [String] {
        sql.components(separatedBy: ";\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .map { $0.hasSuffix(";") ? String($0.dropLast()) : $0 }
            .filter { !$0.split(separator: "\n").allSatisfy { $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") } }
    }
}
