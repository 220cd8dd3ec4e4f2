import CoreMetrics
import Foundation
import Logging
import Plugins
import Storage

/// `/ask QUESTION`: answers from the asker's own documents only.
public protocol AskService: Sendable {
    func ask(_ question: String, for requester: Requester, languageCode: String?) async throws -> AskOutcome
}

public enum AskOutcome: Sendable {
    case answered(AskAnswer)
    /// The question names no word, kind of document or period to look for.
    case nothingToLookFor
    /// The asker's questions for today are used up (`ASK_DAILY_LIMIT`).
    case overDailyLimit(Int)
    /// `ASK_DAILY_LIMIT=0`.
    case off
}

/// What was found and, with an LLM analyser, what the model made of it.
public struct AskAnswer: Sendable {
    public var findings: AskFindings
    /// The model's answer, when one was written.
    public var text: String?
    /// The model that wrote it.
    public var model: String?
    /// The matches the model cited, in its order.
    public var cited: [AskMatch]
    /// Why the model gave no answer though one is configured (the passages are the answer then).
    public var modelFailure: String?

    public init(findings: AskFindings, text: String? = nil, model: String? = nil, cited: [AskMatch] = [], modelFailure: String? = nil) {
        self.findings = findings
        self.text = text
        self.model = model
        self.cited = cited
        self.modelFailure = modelFailure
    }
}

/// `AskService` on the store: the asker's documents are the chat's jobs that the asker sent (retrieved by the
/// full-text index and from the recent ones, so a question naming only a kind or a period finds them too),
/// ranked by `AskRetrieval`; with a model, the best of them go to it and its answer cites them. Every question
/// counts against `dailyLimit`; a model's tokens are recorded like every LLM call.
public struct StoreAskService: AskService {
    /// How many of the asker's latest jobs are ranked besides the full-text hits.
    public static let recentLimit = 300
    public static let hitLimit = 40

    let documents: any DocumentStore
    let usage: any UsageLedger
    let answerer: (any QuestionAnswerer)?
    let dailyLimit: Int
    let metrics: any MetricsFactory
    let logger: Logger
    /// One more try after a transient failure, only when the model asks to wait no longer than a person would.
    let retry = RetryPolicy(maxAttempts: 2, baseDelay: 0.5, maxDelay: 2, maxRetryAfter: 10)

    public init(documents: any DocumentStore, usage: any UsageLedger, answerer: (any QuestionAnswerer)?, dailyLimit: Int,
                metrics: any MetricsFactory = NOOPMetricsHandler.instance, logger: Logger = Logger(label: "ask")) {
        self.documents = documents
        self.usage = usage
        self.answerer = answerer
        self.dailyLimit = dailyLimit
        self.metrics = metrics
        self.logger = logger
    }

    public func ask(_ text: String, for requester: Requester, languageCode: String?) async throws -> AskOutcome {
        guard dailyLimit > 0 else { return .off }
        let question = QuestionParser().parse(text)
        guard !question.isEmpty else { return .nothingToLookFor }
        guard try await usage.admitQuestion(userID: requester.userID, limit: dailyLimit) != nil else { return .overDailyLimit(dailyLimit) }
        let findings = AskRetrieval().findings(for: question, in: try await ownDocuments(question, requester))
        guard let answerer, !findings.matches.isEmpty else { return .answered(AskAnswer(findings: findings)) }
        let request = QuestionRequest(question: text, documents: findings.matches, languageCode: languageCode)
        do {
            let (raw, spent) = try await call(answerer, request)
            await record(spent, for: requester)
            let answer = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !answer.isEmpty else { return .answered(AskAnswer(findings: findings, model: spent.model, modelFailure: "the model returned no answer")) }
            let cited = request.citedCodes(in: answer).compactMap { code in findings.matches.first { $0.jobCode == code } }
            return .answered(AskAnswer(findings: findings, text: String(answer.prefix(3000)), model: spent.model, cited: cited))
        } catch let error as PluginError {
            logger.warning("the model could not answer a question", metadata: ["error": "\(error.message)"])
            return .answered(AskAnswer(findings: findings, modelFailure: error.message))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.warning("the model could not answer a question", metadata: ["error": "\(error)"])
            return .answered(AskAnswer(findings: findings, modelFailure: "the model could not be reached"))
        }
    }

    /// The chat's jobs the asker sent, each document once (its latest job), with their analyses.
    func ownDocuments(_ question: Question, _ requester: Requester) async throws -> [JobDetails] {
        var jobs = try await documents.recentJobs(chatID: requester.chatID, limit: Self.recentLimit)
        if !question.terms.isEmpty {
            let known = Set(jobs.map(\.job.code))
            for hit in try await documents.searchDocuments(anyOf: question.terms, owner: .chat(requester.chatID), limit: Self.hitLimit)
            where !known.contains(hit.jobCode) {
                if let details = try await documents.jobDetails(code: hit.jobCode) { jobs.append(details) }
            }
        }
        // Both sources hold the chat's jobs only; of them, the asker's.
        var seen = Set<String>()
        return jobs.filter { $0.job.userID == requester.userID }
            .sorted { ($0.job.id ?? 0) > ($1.job.id ?? 0) }
            .filter { seen.insert($0.document.sha256).inserted }
    }

    private func call(_ answerer: any QuestionAnswerer, _ request: QuestionRequest) async throws -> (String, StepUsage) {
        var attempt = 1
        while true {
            do {
                return try await answerer.answer(request)
            } catch let error as PluginError where error.kind == .transient && attempt < retry.maxAttempts
                && (error.retryAfter ?? 0) <= retry.maxRetryAfter {
                try await retry.pause(afterAttempt: attempt, retryAfter: error.retryAfter)
                attempt += 1
            }
        }
    }

    private func record(_ spent: StepUsage, for requester: Requester) async {
        guard spent.inputTokens + spent.outputTokens > 0 else { return }
        spent.record(to: metrics)
        do {
            try await usage.recordLLMUsage(purpose: "ask", groupID: nil, userID: requester.userID, usage: spent)
        } catch {
            logger.error("could not record a question's usage", metadata: ["error": "\(error)"])
        }
    }
}
