import Foundation
import Logging
import PostgresNIO
import Storage
import Synchronization

/// The gateway's state on PostgreSQL (`DATABASE_URL=postgres://…`): the same store protocols as the SQLite
/// store, so one gateway and any number of workers on other machines share one queue.
///
/// Every public method is one whole transaction, as in the SQLite store. Where SQLite relies on its single
/// writer, this store locks what it changes: a claim takes its row with `FOR UPDATE SKIP LOCKED` (two workers
/// never wait on each other or take the same job), a lease carries a fencing token that every write checks.
/// Connections come from a pool (`PostgresClient`) that reconnects by itself after a restart of the server;
/// an operation that cannot finish within `operationTimeout` fails as transient, and the caller tries again.
public final class PostgresDatabase: Sendable {
    public let url: DatabaseURL
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>
    private let listener: WorkListener
    /// Claims and finished steps asked for at the same time by this process's job loops, each batch in one
    /// transaction (`PostgresDatabase+Jobs`).
    let claims = GroupCommit<ClaimRequest, ClaimedJob?>(limit: 64)
    let finishes = GroupCommit<FinishRequest, ClaimedJob?>(limit: 64)
    /// Jobs this process enqueued since the queue's statistics were last refreshed (`refreshStatisticsIfGrown`).
    let statistics = Mutex(QueueStatistics())
    static let operationTimeout: Duration = .seconds(30)
    /// The channel a worker listens on to hear of new work at once instead of at its next poll.
    static let jobsChannel = "botgateway_jobs"

    private init(url: DatabaseURL, client: PostgresClient, logger: Logger) {
        self.url = url
        self.client = client
        self.logger = logger
        runner = Task { await client.run() }
        listener = WorkListener(url: url, channel: Self.jobsChannel, logger: logger)
    }

    /// Connects, checks the server answers, and brings the schema up to date (refusing one from a newer version).
    public static func open(_ address: String, logger: Logger = Logger(label: "postgres")) async throws -> PostgresDatabase {
        let url: DatabaseURL
        let configuration: PostgresClient.Configuration
        do {
            url = try DatabaseURL(address)
            configuration = try url.clientConfiguration()
        } catch {
            throw StorageError.invalid(error.description)
        }
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        try await check(url, logger: quiet)
        let database = PostgresDatabase(url: url, client: PostgresClient(configuration: configuration, backgroundLogger: quiet), logger: quiet)
        do {
            try await database.migrate()
        } catch {
            await database.close()
            throw error
        }
        return database
    }

    /// One connection of its own first: a wrong address, password or database fails here at once, in the
    /// server's words, instead of after the pool's retries.
    private static func check(_ url: DatabaseURL, logger: Logger) async throws {
        do {
            let connection = try await PostgresConnection.connect(on: PostgresClient.defaultEventLoopGroup.next(),
                                                                  configuration: try url.connectionConfiguration(), id: 0, logger: logger).get()
            try? await connection.close()
        } catch {
            throw StorageError.databaseUnavailable(path: url.description, reason: plainReason(error))
        }
    }

    /// Closes every connection; the store cannot be used after.
    public func close() async {
        await listener.close()
        runner.cancel()
        await runner.value
    }

    // MARK: Hearing of new work

    public var announcesWork: Bool { true }

    public func workMark() -> UInt64 { listener.mark() }

    public func waitForWork(after mark: UInt64, upTo seconds: Double) async throws {
        await listener.wait(after: mark, upTo: seconds)
        try Task.checkCancellation()
    }

    // MARK: Running statements

    /// One transaction on one pooled connection: committed when `body` returns, rolled back when it throws.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await bounded {
            try await self.client.withConnection { connection in
                try await connection.withTransaction(logger: self.logger) { connection in try await body(connection) }
            }
        }
    }

    /// Statements outside a transaction (reads, single writes).
    func connection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await bounded { try await self.client.withConnection { connection in try await body(connection) } }
    }

    /// One statement on a pooled connection, outside a transaction; its rows, if any, are read and dropped.
    func execute(_ query: PostgresQuery) async throws {
        _ = try await connection { connection in try await connection.query(query, logger: self.logger).collect().count }
    }

    /// Runs `work` with the operation timeout; PostgreSQL's and the pool's errors become `StorageError`, with
    /// the server's own message and never the address's password.
    ///
    /// The caller gets its answer at the timeout even when `work` does not end: a query caught on a connection
    /// the server dropped (a restart) can wait for ever and ignore cancellation, and a task group would wait for
    /// it on exit, holding up the caller (the reply sender stalled so, and then shutdown). Such work is cancelled
    /// and left to end on its own.
    private func bounded<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await work() }
        let result: Result<T, any Error> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let answer = FirstAnswer(continuation)
                let timer = Task {
                    try? await Task.sleep(for: Self.operationTimeout)
                    guard !Task.isCancelled else { return }
                    task.cancel()
                    logger.warning("a database operation got no answer in time; it is abandoned and the caller retries",
                                   metadata: ["timeout": "\(Self.operationTimeout)"])
                    answer.give(.failure(StorageError.databaseUnavailable(path: url.description,
                                                                          reason: "no answer within \(Self.operationTimeout)")))
                }
                Task {
                    let outcome = await task.result
                    timer.cancel()
                    answer.give(outcome)
                }
            }
        } onCancel: {
            task.cancel()
        }
        do {
            return try result.get()
        } catch let error as StorageError {
            throw error
        } catch {
            if let storage = Self.storageError(in: error) { throw storage }
            throw StorageError.databaseUnavailable(path: url.description, reason: Self.plainReason(error))
        }
    }

    /// A `StorageError` the body threw, from inside a transaction's wrapper.
    private static func storageError(in error: any Error) -> StorageError? {
        if let error = error as? StorageError { return error }
        if let transaction = error as? PostgresTransactionError {
            for inner in [transaction.closureError, transaction.beginError, transaction.commitError] {
                if let inner, let found = storageError(in: inner) { return found }
            }
        }
        return nil
    }

    /// What went wrong in words: the server's message and SQLSTATE, or what happened to the connection.
    static func plainReason(_ error: any Error) -> String {
        if let transaction = error as? PostgresTransactionError {
            if let inner = transaction.closureError ?? transaction.beginError ?? transaction.commitError { return plainReason(inner) }
        }
        if let psql = error as? PSQLError {
            if let message = psql.serverInfo?[.message] {
                return message + (psql.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            }
            if let underlying = psql.underlying { return "\(psql.code): \(underlying)" }
            return "\(psql.code)"
        }
        return "\(error)"
    }

    /// Whether the server refused the statement because of a unique constraint (SQLSTATE 23505).
    static func isUniqueViolation(_ error: any Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == "23505"
    }
}

/// Resumes a continuation with the first result given and ignores the rest: an operation's outcome or its timeout.
private final class FirstAnswer<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Result<T, any Error>, Never>?>

    init(_ continuation: CheckedContinuation<Result<T, any Error>, Never>) {
        self.continuation = Mutex(continuation)
    }

    func give(_ result: Result<T, any Error>) {
        continuation.withLock { continuation in
            defer { continuation = nil }
            return continuation
        }?.resume(returning: result)
    }
}
