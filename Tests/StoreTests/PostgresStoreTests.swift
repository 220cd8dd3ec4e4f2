import Foundation
@testable import PostgresStore
import Storage
import TestSupport
import Testing

/// What only the PostgreSQL store does: its own migrations and schema check, and a server that goes away.
@Suite("PostgreSQL store: schema and server restarts", .serialized)
struct PostgresStoreTests {
    @Test("migrations run once on a new database and not again; a schema from a newer version is refused, untouched")
    func migrations() async throws {
        guard let server = try await SharedPostgres.server() else { return }
        let url = try await server.freshDatabase()
        let first = try await PostgresDatabase.open(url)
        #expect(try await first.appliedMigrations() == PostgresSchema.migrations.map(\.name))
        await first.close()
        let again = try await PostgresDatabase.open(url)
        #expect(try await again.appliedMigrations() == PostgresSchema.migrations.map(\.name))
        try await again.execute("INSERT INTO schema_migration (version, name, applied_at) VALUES (99, 'v99-from-the-future', 0)")
        await again.close()
        await #expect(throws: StorageError.newerSchema(["v99-from-the-future"])) { _ = try await PostgresDatabase.open(url) }
    }

    @Test("while the server is down a call fails as transient; once it is back the same store works again, nothing lost")
    func serverRestart() async throws {
        if let reason = PostgresServer.unavailableReason {
            print("PostgreSQL restart test skipped: \(reason)")
            return
        }
        // A server of its own: the shared one serves the other tests meanwhile.
        let server = try await PostgresServer.start()
        let store = try await PostgresDatabase.open(try await server.freshDatabase())
        _ = try await store.enqueue([(document(1), JobRequest(origin: .batch, sourceName: "a.png", sourceKey: "k1"))], steps: ["ocr"], now: 1_000)
        try await server.pause()
        do {
            _ = try await store.jobCounts(groupID: nil)
            Issue.record("a call succeeded while the server was down")
        } catch let error as StorageError {
            #expect(error.isTransient, "\(error)")
        }
        try await server.resume()
        var counts: [JobState: Int]?
        for _ in 0..<50 where counts == nil {
            counts = try? await store.jobCounts(groupID: nil)
            if counts == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(counts == [.queued: 1])
        let claimed = try await store.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: 1_001)
        #expect(claimed?.document.sha256 == document(1).sha256)
        await store.close()
        await server.stop()
    }

    @Test("a folder enqueued at once gets the planner's statistics refreshed before it is read, not a minute later")
    func statisticsRefreshed() async throws {
        guard let server = try await SharedPostgres.server() else { return }
        let store = try await PostgresDatabase.open(try await server.freshDatabase())
        func analyses() async throws -> Int64 {
            try await store.connection { connection in
                try await connection.query("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'job'", logger: store.logger)
                    .first()?.value("analyze_count", as: Int64.self) ?? -1
            }
        }
        // In chunks, as the batch command and the benchmark enqueue: each chunk is one transaction, bounded in time.
        let items = (1...999).map { (document($0), JobRequest(origin: .batch, sourceName: "doc-\($0).png", sourceKey: "k\($0)")) }
        for start in stride(from: 0, to: items.count, by: 111) {
            _ = try await store.enqueue(Array(items[start..<start + 111]), steps: ["ocr"], now: 1_000)
        }
        // The same jobs again make nothing new: nothing counts towards the refresh.
        _ = try await store.enqueue(Array(items.prefix(111)), steps: ["ocr"], now: 1_000)
        #expect(try await analyses() == 0)
        // The thousandth new job does.
        _ = try await store.enqueue([(document(1_000), JobRequest(origin: .batch, sourceName: "last.png", sourceKey: "k1000"))], steps: ["ocr"], now: 1_000)
        var count = try await analyses()
        for _ in 0..<20 where count == 0 {
            try await Task.sleep(for: .milliseconds(100))
            count = try await analyses()
        }
        #expect(count == 1)
        await store.close()
    }

    @Test("a job queued by another process wakes a waiting worker at once; one queued before the wait is not missed")
    func listenWakesWorkers() async throws {
        guard let server = try await SharedPostgres.server() else { return }
        let url = try await server.freshDatabase()
        let worker = try await PostgresDatabase.open(url)
        let gateway = try await PostgresDatabase.open(url)
        #expect(worker.announcesWork)
        // The first mark opens the listening connection; wait until it hears (its first wake moves the mark).
        var mark = worker.workMark()
        try await worker.waitForWork(after: mark, upTo: 5)
        mark = worker.workMark()

        let clock = ContinuousClock()
        let started = clock.now
        async let woke: Void = worker.waitForWork(after: mark, upTo: 20)
        try await Task.sleep(for: .milliseconds(200))
        _ = try await gateway.enqueue([(document(1), JobRequest(origin: .batch, sourceName: "a.png", sourceKey: "k1"))], steps: ["ocr"], now: 1_000)
        try await woke
        #expect(clock.now - started < .seconds(5), "woke after \(clock.now - started)")

        // Work announced between a worker's empty look and its wait: the wait returns at once.
        let before = worker.workMark()
        _ = try await gateway.enqueue([(document(2), JobRequest(origin: .batch, sourceName: "b.png", sourceKey: "k2"))], steps: ["ocr"], now: 1_000)
        let raced = clock.now
        for _ in 0..<100 where worker.workMark() == before { try await Task.sleep(for: .milliseconds(20)) }
        try await worker.waitForWork(after: before, upTo: 20)
        #expect(clock.now - raced < .seconds(5))
        // Nothing announced: the wait is the poll.
        let quiet = clock.now
        try await worker.waitForWork(after: worker.workMark(), upTo: 0.3)
        #expect(clock.now - quiet >= .milliseconds(250))
        await gateway.close()
        await worker.close()
    }

    @Test("the address is read as operators write it, and never shown with its password")
    func addresses() throws {
        let url = try DatabaseURL("postgres://gw:s%40cret@db.internal:6543/botgateway?sslmode=require")
        #expect(url.host == "db.internal")
        #expect(url.port == 6543)
        #expect(url.user == "gw")
        #expect(url.password == "s@cret")
        #expect(url.tls == .require)
        #expect(url.description == "postgres://gw@db.internal:6543/botgateway")
        let socket = try DatabaseURL("postgresql://gw@/botgateway?host=/run/postgresql")
        #expect(socket.socketFolder == "/run/postgresql")
        #expect(socket.tls == .prefer)
        for bad in ["mysql://gw@h/db", "postgres://gw@h", "postgres://@h/db", "postgres://gw@h/db?sslmode=maybe", "postgres://gw@/db"] {
            #expect(throws: DatabaseURLError.self, "\(bad)") { _ = try DatabaseURL(bad) }
        }
    }
}
