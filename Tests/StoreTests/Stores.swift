import Foundation
import PostgresStore
import Storage
import TestSupport
import Testing

/// The two implementations of the store protocols. Every contract test runs against both: SQLite in a
/// temporary file, PostgreSQL in a fresh database on a real server started once for the test process.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// A new, empty store of this kind; nil (with the reason recorded) when PostgreSQL cannot run here.
    func open() async throws -> OpenStore? {
        switch self {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-contract-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let database = try AppDatabase(path: folder.appendingPathComponent("botgateway.sqlite").path)
            return OpenStore(store: database) { try? FileManager.default.removeItem(at: folder) }
        case .postgres:
            guard let server = try await SharedPostgres.server() else { return nil }
            let database = try await PostgresDatabase.open(try await server.freshDatabase())
            return OpenStore(store: database, postgres: database) { await database.close() }
        }
    }
}

struct OpenStore: Sendable {
    let store: any GatewayStore
    var postgres: PostgresDatabase?
    let close: @Sendable () async -> Void

    var queue: any JobQueue { store }
    var audit: any StepAudit { store }

    /// Runs `body` on a new store of `kind`; returns without running it where PostgreSQL cannot run.
    static func with(_ kind: StoreKind, _ body: (OpenStore) async throws -> Void) async throws {
        guard let open = try await kind.open() else { return }
        do {
            try await body(open)
        } catch {
            await open.close()
            throw error
        }
        await open.close()
    }
}

/// One PostgreSQL server for the whole test process, stopped when the process exits (`PostgresServer`'s watchdog).
enum SharedPostgres {
    private static let state = ServerState()

    static func server() async throws -> PostgresServer? {
        if let reason = PostgresServer.unavailableReason {
            // Skipped with a clear message, only where PostgreSQL cannot be installed.
            print("PostgreSQL store tests skipped: \(reason)")
            return nil
        }
        return try await state.server()
    }

    /// Starts the server once. The start is kept as a task before its first suspension, so the tests that ask
    /// while it is still starting wait for that one instead of each starting a server of their own (an actor is
    /// re-entered at every `await`: a stored result alone let ~20 clusters start at once and time out).
    actor ServerState {
        private var starting: Task<PostgresServer, any Error>?

        func server() async throws -> PostgresServer {
            if let starting { return try await starting.value }
            // Stopped by its watchdog when this process ends.
            let start = Task { try await PostgresServer.start() }
            starting = start
            return try await start.value
        }
    }
}

/// A document row for the jobs to point at.
func document(_ seed: Int) -> DocumentRecord {
    ReadDocuments.document(seed: seed, name: "doc-\(seed).png")
}
