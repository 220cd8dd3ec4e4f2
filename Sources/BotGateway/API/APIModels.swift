import Foundation
import Plugins
import Storage

/// The API's JSON bodies, as `openapi.yaml` describes them (snake_case keys, times in RFC 3339 UTC).
enum APIModels {
    static func time(_ timestamp: Timestamp?) -> String? {
        timestamp.map { Date(timeIntervalSince1970: $0).formatted(.iso8601) }
    }

    struct Links: Encodable {
        var `self`: String
        var original: String?
        var text: String?
        var searchable_pdf: String?
        var report: String?
    }

    /// A job in a list: what it is, where it stands, and why it failed or waits.
    struct JobSummary: Encodable {
        var code: String
        var state: String
        var name: String
        var origin: String
        var group_id: Int64?
        var created_at: String
        var finished_at: String?
        var error: String?
        var links: Links

        init(_ job: JobRecord) {
            code = job.code
            state = job.state.rawValue
            name = job.sourceName
            origin = job.origin.rawValue
            group_id = job.groupID
            created_at = APIModels.time(job.createdAt) ?? ""
            finished_at = APIModels.time(job.finishedAt)
            // A job still retrying says why it waits; a failed one why it failed.
            error = job.state == .done ? nil : job.lastError ?? (job.state == .failed ? "it failed" : nil)
            links = Links(self: "/api/v1/jobs/\(job.code)", original: "/api/v1/documents/\(job.documentSHA256)/original",
                          text: "/api/v1/documents/\(job.documentSHA256)/text",
                          searchable_pdf: "/api/v1/documents/\(job.documentSHA256)/searchable.pdf", report: job.groupID.map { "/api/v1/groups/\($0)/report" })
        }
    }

    struct Document: Encodable {
        var id: String
        var format: String
        var mime_type: String
        var size: Int64
        var pages: Int?
    }

    struct Step: Encodable {
        var name: String
        var state: String
        var attempts: Int
        var started_at: String?
        var finished_at: String?
        var duration_ms: Double?
        var error: String?
    }

    /// One job in full: the summary's fields, and its steps with timings and its analysis once there is one.
    struct Job: Encodable {
        var summary: JobSummary
        var language: String?
        var callback_url: String?
        var updated_at: String
        var document: Document
        var steps: [Step]
        var analysis: Analysis?

        enum CodingKeys: String, CodingKey {
            case language, callback_url, updated_at, document, steps, analysis
        }

        init(_ details: JobDetails, answerStep: String) {
            let job = details.job
            summary = JobSummary(job)
            language = job.languageCode
            callback_url = job.callbackURL
            updated_at = APIModels.time(job.updatedAt) ?? ""
            document = Document(id: details.document.sha256, format: details.document.format, mime_type: details.document.mimeType,
                                size: details.document.size, pages: details.document.pages)
            steps = details.steps.map {
                Step(name: $0.plugin, state: $0.state.rawValue, attempts: $0.attempts, started_at: APIModels.time($0.startedAt),
                     finished_at: APIModels.time($0.finishedAt), duration_ms: $0.durationMilliseconds, error: $0.error)
            }
            analysis = details.output(of: answerStep).flatMap { try? JSONDecoder().decode(Analysis.self, from: $0) }
        }

        /// One flat object: the summary's keys and these side by side.
        func encode(to encoder: any Encoder) throws {
            try summary.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(language, forKey: .language)
            try container.encodeIfPresent(callback_url, forKey: .callback_url)
            try container.encode(updated_at, forKey: .updated_at)
            try container.encode(document, forKey: .document)
            try container.encode(steps, forKey: .steps)
            try container.encodeIfPresent(analysis, forKey: .analysis)
        }
    }

    struct Accepted: Encodable {
        var created: Bool
        var job: JobSummary
        var status_url: String
    }

    struct JobPage: Encodable {
        var jobs: [JobSummary]
        var next_cursor: String?
    }

    struct SearchResult: Encodable {
        var document_id: String
        var name: String
        var job_code: String
        var snippet: String
    }

    struct SearchResults: Encodable {
        var query: String
        var results: [SearchResult]
    }

    struct Stats: Encodable {
        struct Usage: Encodable {
            var input_tokens: Int
            var output_tokens: Int
            var cost_usd: Double
        }

        struct Day: Encodable {
            var day: String
            var model: String?
            var calls: Int
            var input_tokens: Int
            var output_tokens: Int
            var cost_usd: Double
        }

        var jobs: [String: Int]
        var documents: Int
        var users: Int
        var pending_replies: Int
        var unfinished_steps: [String: Int]
        var usage: Usage
        var spending: [Day]

        init(_ totals: GatewayStats, spending: [Spending]) {
            jobs = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, totals.jobs[$0] ?? 0) })
            documents = totals.documents
            users = totals.users
            pending_replies = totals.pendingReplies
            unfinished_steps = totals.unfinishedSteps
            usage = Usage(input_tokens: totals.inputTokens, output_tokens: totals.outputTokens, cost_usd: totals.costUSD)
            self.spending = spending.map {
                Day(day: $0.day, model: $0.model, calls: $0.calls, input_tokens: $0.inputTokens, output_tokens: $0.outputTokens, cost_usd: $0.costUSD)
            }
        }
    }

    /// A completion callback's body.
    struct CallbackEvent: Encodable {
        var id: String
        var type: String
        var created_at: String
        var job: Job? = nil
        var group: GroupDone? = nil
    }

    struct GroupDone: Encodable {
        var id: Int64
        var jobs: [JobSummary]
        var report: String
    }
}
