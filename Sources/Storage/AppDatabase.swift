import Foundation
import GRDB

/// The gateway's state: one SQLite file in WAL mode under `BOT_DATA_DIR`.
///
/// Every public method is one whole transaction that keeps the invariants ("claim the next job",
/// "finish a step"); no SQL lives outside this module.
public final class AppDatabase: Sendable {
    let writer: DatabasePool
    public let path: String

    /// Opens (creating if needed) and migrates the database at `path`.
    public init(path: String) throws(StorageError) {
        self.path = path
        var configuration = Configuration()
        // Concurrent batch workers and the webhook share the single writer: wait rather than fail.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL + NORMAL: a commit survives a process crash or SIGKILL (the WAL is in the OS);
            // only an OS crash or power cut can roll back the last commits, never corrupt the file.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        // Processes opening a new file at once (`serve` and `batch`, a gateway and its workers) contend for it
        // while the first of them turns it to WAL and migrates it: the others wait and try again, for a while.
        let deadline = ContinuousClock.now + .seconds(30)
        var pause: TimeInterval = 0.02
        while true {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try Self.migrate(pool)
                writer = pool
                return
            } catch let error as StorageError {
                throw error
            } catch {
                guard Self.isContention(error), ContinuousClock.now < deadline else {
                    throw .databaseUnavailable(path: path, reason: Self.plainReason(error, path: path))
                }
                Thread.sleep(forTimeInterval: pause)
                pause = min(pause * 2, 0.5)
            }
        }
    }

    /// Another connection holds the file or migrated it under us: trying again will get further.
    static func isContention(_ error: any Error) -> Bool {
        if error is MigrationRaced { return true }
        guard let database = error as? DatabaseError else { return false }
        return database.resultCode == .SQLITE_BUSY || database.resultCode == .SQLITE_LOCKED
    }

    /// A migration failed because another process applied migrations meanwhile.
    struct MigrationRaced: Error {}

    /// Why the file could not be opened, in words an operator can act on (not SQLite's or GRDB's codes).
    static func plainReason(_ error: any Error, path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        if FileManager.default.fileExists(atPath: path), access(path, W_OK) != 0 {
            return "the database file is read-only; give the user running botgateway write access to it"
        }
        if access(folder, W_OK) != 0 {
            return "the folder \(folder) is read-only; SQLite needs to write its journal beside the database"
        }
        if let database = error as? DatabaseError {
            return database.message ?? "SQLite error \(database.resultCode.rawValue)"
        }
        return "\(error)"
    }

    /// Names of the migrations applied, oldest first (for `doctor` and tests).
    public func appliedMigrations() throws -> [String] {
        // In the order they were written (sorted by name, v10 would come before v2).
        let migrator = Self.migrator
        return try writer.read { db in
            let applied = try migrator.appliedIdentifiers(db)
            return migrator.migrations.filter(applied.contains) + applied.subtracting(migrator.migrations).sorted()
        }
    }

    /// Two processes opening a new database at once (`serve` and `batch`) can both see a migration as
    /// missing (the migrator reads what is applied before each migration's own transaction); the loser's
    /// "already exists" is fine when the winner completed them all, and worth another try when it moved on.
    private static func migrate(_ writer: DatabasePool) throws {
        let migrator = Self.migrator
        let applied = try writer.read { db in try migrator.appliedIdentifiers(db) }
        let unknown = applied.subtracting(migrator.migrations)
        guard unknown.isEmpty else { throw StorageError.newerSchema(unknown.sorted()) }
        if try writer.read({ try migrator.hasCompletedMigrations($0) }) { return }
        // The reader that asked has cached the old schema: an upgraded table would read as missing its new
        // columns until that connection is replaced.
        defer { writer.invalidateReadOnlyConnections() }
        do {
            try migrator.migrate(writer)
        } catch {
            if try writer.read({ try migrator.hasCompletedMigrations($0) }) { return }
            if isContention(error) { throw error }
            let now = try writer.read { db in try migrator.appliedIdentifiers(db) }
            guard now == applied else { throw MigrationRaced() }
            throw error
        }
    }

    /// Append-only: a released migration is never edited, a change is a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-documents-jobs-steps") { db in
            try db.create(table: "document") { t in
                t.primaryKey("sha256", .text)
                t.column("format", .text).notNull()
                t.column("mimeType", .text).notNull()
                t.column("size", .integer).notNull()
                t.column("blobPath", .text).notNull()
                t.column("originalName", .text).notNull()
                t.column("pages", .integer)
                t.column("ocrText", .text)
                t.column("ocrResult", .blob)
                t.column("createdAt", .double).notNull()
            }
            // Full-text search over OCR text, kept in step with `document` by triggers.
            try db.execute(sql: """
                CREATE VIRTUAL TABLE document_fts USING fts5(
                    ocrText, content='document', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
                CREATE TRIGGER document_fts_insert AFTER INSERT ON document BEGIN
                    INSERT INTO document_fts(rowid, ocrText) VALUES (new.rowid, new.ocrText);
                END;
                CREATE TRIGGER document_fts_delete AFTER DELETE ON document BEGIN
                    INSERT INTO document_fts(document_fts, rowid, ocrText) VALUES ('delete', old.rowid, old.ocrText);
                END;
                CREATE TRIGGER document_fts_update AFTER UPDATE OF ocrText ON document BEGIN
                    INSERT INTO document_fts(document_fts, rowid, ocrText) VALUES ('delete', old.rowid, old.ocrText);
                    INSERT INTO document_fts(rowid, ocrText) VALUES (new.rowid, new.ocrText);
                END;
                """)

            try db.create(table: "jobGroup") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("kind", .text).notNull()
                t.column("key", .text).notNull().unique()
                t.column("title", .text).notNull()
                t.column("chatID", .integer)
                t.column("userID", .integer)
                t.column("reportPath", .text)
                t.column("consolidatedAt", .double)
                t.column("createdAt", .double).notNull()
                // Albums have no "last item" marker: the group is complete once items stop arriving.
                t.column("lastAddedAt", .double)
                t.column("notifiedAt", .double)
            }

            try db.create(table: "job") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("code", .text).notNull().unique()
                t.column("documentSHA256", .text).notNull().references("document", onDelete: .restrict)
                t.column("origin", .text).notNull()
                t.column("sourceName", .text).notNull()
                t.column("groupID", .integer).references("jobGroup", onDelete: .setNull)
                t.column("chatID", .integer)
                t.column("userID", .integer)
                t.column("messageID", .integer)
                t.column("languageCode", .text)
                t.column("state", .text).notNull()
                t.column("nextAttemptAt", .double).notNull()
                t.column("leaseOwner", .text)
                t.column("leaseExpiresAt", .double)
                t.column("lastError", .text)
                t.column("createdAt", .double).notNull()
                t.column("updatedAt", .double).notNull()
                t.column("finishedAt", .double)
                // What made the job ("tg:update:123"): a message handled twice still makes one job.
                t.column("sourceKey", .text).unique()
                // When the requester was told the outcome (Telegram jobs).
                t.column("notifiedAt", .double)
                t.uniqueKey(["groupID", "documentSHA256"])
            }
            try db.create(index: "job_claim", on: "job", columns: ["state", "nextAttemptAt"])
            try db.create(index: "job_group_claim", on: "job", columns: ["groupID", "state", "nextAttemptAt"])
            try db.create(index: "job_document", on: "job", columns: ["documentSHA256"])
            try db.create(index: "job_chat", on: "job", columns: ["chatID", "createdAt"])

            try db.create(table: "step") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("jobID", .integer).notNull().references("job", onDelete: .cascade)
                t.column("position", .integer).notNull()
                t.column("plugin", .text).notNull()
                t.column("state", .text).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("output", .blob)
                t.column("error", .text)
                t.column("startedAt", .double)
                t.column("finishedAt", .double)
                t.column("durationMilliseconds", .double)
                t.column("inputTokens", .integer).notNull().defaults(to: 0)
                t.column("outputTokens", .integer).notNull().defaults(to: 0)
                t.column("costUSD", .double).notNull().defaults(to: 0)
                t.column("model", .text)
                t.uniqueKey(["jobID", "plugin"])
            }

            // Every execution of a step, so "ran exactly once" can be checked after a crash.
            try db.create(table: "stepRun") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("jobID", .integer).notNull().references("job", onDelete: .cascade)
                t.column("plugin", .text).notNull()
                t.column("attempt", .integer).notNull()
                t.column("owner", .text).notNull()
                t.column("outcome", .text).notNull()
                t.column("startedAt", .double).notNull()
                t.column("finishedAt", .double)
            }
            try db.create(index: "stepRun_job", on: "stepRun", columns: ["jobID", "plugin"])

            try db.create(table: "user") { t in
                t.primaryKey("id", .integer)
                t.column("role", .text).notNull()
                t.column("addedBy", .integer)
                t.column("createdAt", .double).notNull()
            }

            // Replies waiting to be sent: written in the same transaction as the state they report,
            // so a crash can delay a reply but never lose it.
            try db.create(table: "outbox") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("chatID", .integer).notNull()
                t.column("kind", .text).notNull()
                t.column("payload", .blob).notNull()
                t.column("dedupeKey", .text).notNull().unique()
                t.column("state", .text).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("nextAttemptAt", .double).notNull()
                t.column("lastError", .text)
                t.column("createdAt", .double).notNull()
                t.column("sentAt", .double)
            }
            try db.create(index: "outbox_due", on: "outbox", columns: ["state", "nextAttemptAt"])

            // Strangers get one reply with their id per hour, not one per message.
            try db.create(table: "strangerReply") { t in
                t.primaryKey("userID", .integer)
                t.column("repliedAt", .double).notNull()
            }

            try db.create(table: "telegramUpdate") { t in
                t.primaryKey("updateID", .integer)
                t.column("payload", .blob).notNull()
                t.column("state", .text).notNull()
                t.column("receivedAt", .double).notNull()
                t.column("processedAt", .double)
                t.column("error", .text)
            }
        }
        // LLM calls that belong to no job's step: a report's executive summary.
        migrator.registerMigration("v2-llm-usage") { db in
            try db.create(table: "llmUsage") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("purpose", .text).notNull()
                t.column("groupID", .integer).references("jobGroup", onDelete: .setNull)
                t.column("model", .text)
                t.column("inputTokens", .integer).notNull()
                t.column("outputTokens", .integer).notNull()
                t.column("costUSD", .double).notNull()
                t.column("createdAt", .double).notNull()
            }
        }
        // One chat's updates and replies in order, chats independent: the queues are read per chat.
        migrator.registerMigration("v3-per-chat-queues") { db in
            try db.alter(table: "telegramUpdate") { t in
                t.add(column: "chatID", .integer)
                t.add(column: "attempts", .integer).notNull().defaults(to: 0)
                t.add(column: "nextAttemptAt", .double).notNull().defaults(to: 0)
            }
            try db.execute(sql: """
                UPDATE telegramUpdate SET chatID = COALESCE(json_extract(CAST(payload AS TEXT), '$.message.chat.id'),
                                                            json_extract(CAST(payload AS TEXT), '$.edited_message.chat.id'))
                WHERE state = 'pending' AND json_valid(CAST(payload AS TEXT))
                """)
            try db.create(index: "telegramUpdate_chat", on: "telegramUpdate", columns: ["state", "chatID", "updateID"])
            try db.create(index: "outbox_chat", on: "outbox", columns: ["state", "chatID", "id"])
        }
        // Leases carry a fencing token (see `JobRecord.leaseToken`), as the PostgreSQL store's do.
        migrator.registerMigration("v4-lease-token") { db in
            try db.alter(table: "job") { t in
                t.add(column: "leaseToken", .integer).notNull().defaults(to: 0)
            }
        }
        // The HTTP API: its tokens (hashed), the token and callback address of the jobs it made, and the
        // completion callbacks it owes, as a durable outbox.
        migrator.registerMigration("v5-http-api") { db in
            try db.alter(table: "job") { t in
                t.add(column: "tokenID", .integer)
                t.add(column: "callbackURL", .text)
                // When the job's completion callback was queued (cleared when a failed job is retried).
                t.add(column: "callbackQueuedAt", .double)
            }
            try db.create(index: "job_token", on: "job", columns: ["tokenID", "id"])
            // A token's jobs by time (`since` in its listings).
            try db.create(index: "job_tokenCreated", on: "job", columns: ["tokenID", "createdAt"])
            try db.execute(sql: "CREATE INDEX job_callbackDue ON job (id) WHERE callbackURL IS NOT NULL AND callbackQueuedAt IS NULL")
            try db.create(table: "apiToken") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("name", .text).notNull()
                t.column("tokenHash", .text).notNull().unique()
                t.column("hint", .text).notNull()
                t.column("scopes", .text).notNull()
                t.column("rateLimit", .double)
                t.column("dailyQuota", .integer)
                t.column("createdAt", .double).notNull()
                t.column("revokedAt", .double)
                t.column("lastUsedAt", .double)
            }
            try db.execute(sql: "CREATE UNIQUE INDEX apiToken_liveName ON apiToken (name) WHERE revokedAt IS NULL")
            try db.create(table: "callback") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("eventID", .text).notNull().unique()
                t.column("event", .text).notNull()
                t.column("jobID", .integer)
                t.column("jobCode", .text)
                t.column("groupID", .integer)
                t.column("tokenID", .integer)
                t.column("url", .text).notNull()
                t.column("payload", .blob)
                t.column("state", .text).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("nextAttemptAt", .double).notNull()
                t.column("lastError", .text)
                t.column("createdAt", .double).notNull()
                t.column("sendingAt", .double)
                t.column("deliveredAt", .double)
            }
            try db.create(index: "callback_due", on: "callback", columns: ["state", "nextAttemptAt"])
        }
        migrator.registerMigration("v6-dashboard") { db in
            // Single-use sign-in links for the dashboard; only their hash is kept.
            try db.create(table: "signInLink") { t in
                t.primaryKey("tokenHash", .text)
                t.column("userID", .integer).notNull()
                t.column("createdAt", .double).notNull()
                t.column("expiresAt", .double).notNull()
                t.column("usedAt", .double)
            }
            // One row: the pipeline's pause switch.
            try db.create(table: "pipelineControl") { t in
                t.primaryKey("id", .integer).check { $0 == 1 }
                t.column("paused", .boolean).notNull().defaults(to: false)
                t.column("changedBy", .integer)
                t.column("changedAt", .double)
            }
            try db.execute(sql: "INSERT INTO pipelineControl (id, paused) VALUES (1, 0)")
            // The dashboard's filtered pages (newest first) and its charts, in indexes.
            try db.create(index: "job_stateID", on: "job", columns: ["state", "id"])
            try db.create(index: "job_originID", on: "job", columns: ["origin", "id"])
            try db.create(index: "job_userID", on: "job", columns: ["userID", "id"])
            try db.create(index: "job_created", on: "job", columns: ["createdAt"])
            try db.create(index: "job_finished", on: "job", columns: ["finishedAt"])
        }
        migrator.registerMigration("v7-ask") { db in
            // Whose question an LLM call outside a job answered.
            try db.alter(table: "llmUsage") { t in t.add(column: "userID", .integer) }
            // `/ask` questions per user and UTC day (`day`: its midnight), for ASK_DAILY_LIMIT (the questions themselves are not kept).
            try db.create(table: "askQuota") { t in
                t.column("userID", .integer).notNull()
                t.column("day", .integer).notNull()
                t.column("count", .integer).notNull()
                t.primaryKey(["userID", "day"])
            }
        }
        migrator.registerMigration("v8-chat-settings") { db in
            // What a chat chose for itself (`/pdf on`).
            try db.create(table: "chatSetting") { t in
                t.primaryKey("chatID", .integer)
                t.column("attachSearchablePDF", .boolean).notNull().defaults(to: false)
                t.column("changedBy", .integer)
                t.column("changedAt", .double)
            }
        }
        migrator.registerMigration("v9-page-sets") { db in
            // How a chat's albums become documents (`/albums`); NULL: auto.
            try db.alter(table: "chatSetting") { t in
                t.add(column: "albumMode", .text)
            }
            // Photos waiting to become documents: an album until it is quiet, the pages sent after `/merge`.
            try db.create(table: "pageSet") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("key", .text).notNull().unique()
                t.column("kind", .text).notNull()
                t.column("chatID", .integer).notNull()
                t.column("userID", .integer).notNull()
                t.column("messageID", .integer)
                t.column("languageCode", .text)
                t.column("mode", .text).notNull()
                t.column("createdAt", .double).notNull()
                t.column("lastAddedAt", .double).notNull()
                t.column("closedAt", .double)
                t.column("claimedUntil", .double)
            }
            try db.create(index: "pageSetOpen", on: "pageSet", columns: ["chatID", "userID", "kind", "closedAt"])
            try db.create(table: "pageSetItem") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("setID", .integer).notNull().indexed().references("pageSet", onDelete: .cascade)
                t.column("sourceKey", .text).notNull().unique()
                t.column("messageID", .integer)
                t.column("sha256", .text).notNull()
                t.column("format", .text).notNull()
                t.column("mimeType", .text).notNull()
                t.column("size", .integer).notNull()
                t.column("blobPath", .text).notNull()
                t.column("originalName", .text).notNull()
                t.column("addedAt", .double).notNull()
            }
        }
        migrator.registerMigration("v10-api-usage") { db in
            // Each token's jobs per UTC day, raised as they are made: its quota read in one lookup.
            try db.create(table: "apiUsage", options: .withoutRowID) { t in
                t.column("tokenID", .integer).notNull().references("apiToken", onDelete: .cascade)
                t.column("day", .integer).notNull()
                t.column("documents", .integer).notNull()
                t.primaryKey(["tokenID", "day"])
            }
            try db.execute(sql: """
                INSERT INTO apiUsage (tokenID, day, documents)
                SELECT tokenID, CAST(createdAt / 86400 AS INTEGER), COUNT(*) FROM job WHERE tokenID IS NOT NULL GROUP BY 1, 2
                """)
        }
        return migrator
    }
}

extension AppDatabase: StoreSchema {
    public var location: String { path }

    public func migrationNames() async throws -> [String] {
        try appliedMigrations()
    }

    /// GRDB closes the file when the last reference goes.
    public func close() async {}
}

/// Why the store could not do what was asked, in words an operator can act on.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    case databaseUnavailable(path: String, reason: String)
    case blobUnavailable(path: String, reason: String)
    case notFound(String)
    case leaseLost(jobID: Int64)
    case invalid(String)
    /// Another process holds the data folder (a second `serve`).
    case inUse(path: String, holder: String?)
    /// The database was migrated by a newer botgateway: this one would not know its tables.
    case newerSchema([String])

    public var description: String {
        switch self {
        case .databaseUnavailable(let path, let reason): "the database at \(path) cannot be used: \(reason)"
        case .blobUnavailable(let path, let reason): "the document store at \(path) cannot be used: \(reason)"
        case .notFound(let what): "\(what) not found"
        case .leaseLost(let id): "job \(id) was taken over by another worker"
        case .invalid(let why): why
        case .inUse(let path, let holder):
            "\(path) is in use by another botgateway serve\(holder.map { " (pid \($0))" } ?? ""); stop it or give this one its own BOT_DATA_DIR"
        case .newerSchema(let migrations):
            "the database was set up by a newer botgateway (migrations \(migrations.joined(separator: ", ")) are unknown to this version); "
                + "run that version, or restore a backup made for this one"
        }
    }

    /// Our own database or disk failing (full, read-only for a moment, I/O error): the work is kept and
    /// tried again. A missing record or a lost lease is not retried.
    public var isTransient: Bool {
        switch self {
        case .databaseUnavailable, .blobUnavailable: true
        case .notFound, .leaseLost, .invalid, .inUse, .newerSchema: false
        }
    }
}

extension AppDatabase {
    /// Runs a write transaction off the caller's thread; GRDB errors become `StorageError` (cancellation stays
    /// itself).
    func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.write(updates)
        } catch let error as StorageError {
            throw error
        } catch let error as CancellationError {
            // A task cancelled at shutdown: not an unusable database; the caller hands its work back.
            throw error
        } catch {
            throw StorageError.databaseUnavailable(path: path, reason: "\(error)")
        }
    }

    func read<T: Sendable>(_ value: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.read(value)
        } catch let error as StorageError {
            throw error
        } catch let error as CancellationError {
            // A task cancelled at shutdown: not an unusable database; the caller hands its work back.
            throw error
        } catch {
            throw StorageError.databaseUnavailable(path: path, reason: "\(error)")
        }
    }
}

/// Wall-clock seconds since 1970: what leases and retry times are compared in.
public typealias Timestamp = Double

extension Timestamp {
    public static var now: Timestamp { Date().timeIntervalSince1970 }

    /// The UTC day it falls in, `2026-11-24`.
    public var utcDay: String { Date(timeIntervalSince1970: self).formatted(Self.utcDayStyle) }

    /// `2026-11-24` in UTC (a value style: nothing shared to guard).
    public static let utcDayStyle = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!).year().month().day().dateSeparator(.dash)
}

