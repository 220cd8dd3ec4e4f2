import Foundation
import PostgresNIO
import Storage

/// Records read from rows by column name, so a `SELECT job.*` and a `RETURNING *` read alike.
extension PostgresRandomAccessRow {
    func value<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try self[column].decode(T.self)
    }

    func jobRecord() throws -> JobRecord {
        JobRecord(
            id: try value("id", as: Int64.self), code: try value("code"), documentSHA256: try value("document_sha256"),
            origin: JobOrigin(rawValue: try value("origin")) ?? .batch, sourceName: try value("source_name"),
            groupID: try value("group_id"), chatID: try value("chat_id"), userID: try value("user_id"), messageID: try value("message_id"),
            languageCode: try value("language_code"), state: try state("state"), nextAttemptAt: try value("next_attempt_at"),
            leaseOwner: try value("lease_owner"), leaseExpiresAt: try value("lease_expires_at"), leaseToken: try value("lease_token"),
            lastError: try value("last_error"), createdAt: try value("created_at"), updatedAt: try value("updated_at"),
            finishedAt: try value("finished_at"), sourceKey: try value("source_key"), notifiedAt: try value("notified_at"),
            tokenID: try value("token_id"), callbackURL: try value("callback_url"))
    }

    func stepRecord() throws -> StepRecord {
        StepRecord(
            id: try value("id", as: Int64.self), jobID: try value("job_id"), position: try value("position"), plugin: try value("plugin"),
            state: StepState(rawValue: try value("state")) ?? .pending, attempts: try value("attempts"), output: try value("output"),
            error: try value("error"), startedAt: try value("started_at"), finishedAt: try value("finished_at"),
            durationMilliseconds: try value("duration_milliseconds"), inputTokens: Int(try value("input_tokens", as: Int64.self)),
            outputTokens: Int(try value("output_tokens", as: Int64.self)), costUSD: try value("cost_usd"), model: try value("model"))
    }

    func documentRecord() throws -> DocumentRecord {
        DocumentRecord(
            sha256: try value("sha256"), format: try value("format"), mimeType: try value("mime_type"), size: try value("size"),
            blobPath: try value("blob_path"), originalName: try value("original_name"), pages: try value("pages"),
            ocrText: contains("ocr_text") ? try value("ocr_text") : nil, ocrResult: contains("ocr_result") ? try value("ocr_result") : nil,
            createdAt: try value("created_at"))
    }

    func groupRecord() throws -> GroupRecord {
        GroupRecord(
            id: try value("id", as: Int64.self), kind: GroupKind(rawValue: try value("kind")) ?? .batch, key: try value("key"),
            title: try value("title"), chatID: try value("chat_id"), userID: try value("user_id"), reportPath: try value("report_path"),
            consolidatedAt: try value("consolidated_at"), createdAt: try value("created_at"), lastAddedAt: try value("last_added_at"),
            notifiedAt: try value("notified_at"))
    }

    func stepRunRecord() throws -> StepRunRecord {
        StepRunRecord(
            id: try value("id", as: Int64.self), jobID: try value("job_id"), plugin: try value("plugin"), attempt: try value("attempt"),
            owner: try value("owner"), outcome: StepRunOutcome(rawValue: try value("outcome")) ?? .running,
            startedAt: try value("started_at"), finishedAt: try value("finished_at"))
    }

    private func state(_ column: String) throws -> JobState {
        let raw: String = try value(column)
        guard let state = JobState(rawValue: raw) else { throw StorageError.invalid("unknown job state \(raw)") }
        return state
    }
}

extension PostgresRowSequence {
    /// Every row, each readable by column name.
    func rows() async throws -> [PostgresRandomAccessRow] {
        try await collect().map { $0.makeRandomAccess() }
    }

    func first() async throws -> PostgresRandomAccessRow? {
        try await collect().first?.makeRandomAccess()
    }
}
