import CurlHTTP
import Foundation
import Logging
import Storage

/// The HTTP side both LLM analysers share: one JSON POST with a timeout, and the reading of failures into
/// transient (retried by the pipeline, honouring `retry-after`) and permanent ones with plain words.
/// Error texts never carry the key: provider messages are scrubbed of it, and a 401's message is dropped.
struct LLMTransport: Sendable {
    let http: HTTPClient
    let endpoint: LLMEndpoint
    /// "Anthropic", "OpenAI": only for the operator's log.
    let service: String

    /// A report's summary is waited for by a person or a sweep of replies: it gets less time than an analysis.
    var summaryTimeout: Duration { min(endpoint.timeout, .seconds(60)) }

    /// A failed call: the status and the provider's error (`{"error": {"type", "message", "code"}}` in both APIs).
    struct Failure: Error {
        var status: Int
        var type: String?
        var code: String?
        var message: String
        var retryAfter: Double?
    }

    /// Returns the JSON object of a 2xx answer; throws `Failure` for an error status, `PluginError` for
    /// a call that never got an answer.
    func post(_ path: String, body: [String: Any], headers: [(name: String, value: String)], timeout: Duration? = nil) async throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: body)
        return try await send(HTTPClientRequest.json(url: endpoint.baseURL + path, body: data, headers: headers, timeout: timeout ?? endpoint.timeout))
    }

    /// A GET that spends no tokens (model listings), for `botgateway doctor`.
    func get(_ path: String, headers: [(name: String, value: String)]) async throws -> [String: Any] {
        try await send(HTTPClientRequest(url: endpoint.baseURL + path, headers: headers, timeout: .seconds(30)))
    }

    /// One call nothing is retried within (a summary, `doctor`'s check): a failed status becomes the
    /// pipeline's error at once. A GET when `body` is nil.
    func single(_ path: String, body: [String: Any]?, headers: [(name: String, value: String)], timeout: Duration? = nil) async throws -> [String: Any] {
        do {
            guard let body else { return try await get(path, headers: headers) }
            return try await post(path, body: body, headers: headers, timeout: timeout)
        } catch let failure as Failure {
            throw pluginError(failure, usage: StepUsage())
        }
    }

    /// The analysis exchange both analysers have. Each round: `call`, bill its tokens, `parse`. An answer
    /// that fails validation is asked for once more; the second ends the step. A refused call goes to
    /// `recover`, which may change what `call` sends (a server without vision or JSON schema) and says so by
    /// returning true; otherwise the refusal is the step's error. Every call's tokens are on the result or
    /// on the error. `maxCalls` bounds the rounds.
    func analyze(maxCalls: Int, prices: PriceTable, logger: Logger,
                 call: () async throws -> [String: Any],
                 recover: (Failure) async -> Bool,
                 tokens: ([String: Any]) -> (input: Int, output: Int),
                 parse: ([String: Any]) throws(AnalysisSchema.Rejection) -> Analysis) async throws -> (Analysis, StepUsage) {
        var usage = StepUsage(model: endpoint.model)
        var rejections: [String] = []
        for _ in 0..<maxCalls where rejections.count < 2 {
            let answer: [String: Any]
            do {
                answer = try await call()
            } catch let failure as Failure {
                if await recover(failure) { continue }
                logger.warning("\(service) call failed", metadata: ["host": "\(endpoint.host)", "status": "\(failure.status)",
                                                                   "type": "\(failure.type ?? "")", "message": "\(failure.message)"])
                throw pluginError(failure, usage: usage)
            } catch var error as PluginError {
                error.usage = usage + error.usage
                throw error
            }
            usage = usage + self.usage(of: answer, tokens: tokens(answer), prices: prices)
            do {
                return (try parse(answer), usage)
            } catch {
                rejections.append(error.reason)
                logger.warning("the model's answer was not a valid analysis", metadata: ["attempt": "\(rejections.count)", "reason": "\(error.reason)"])
            }
        }
        throw PluginError(.permanent, "the analysis model did not return a usable analysis (\(rejections.last ?? "no answer"))", usage: usage)
    }

    /// Tokens and estimated cost of one answer, under the model the answer names (a dated id) or the configured one.
    func usage(of answer: [String: Any], tokens: (input: Int, output: Int), prices: PriceTable) -> StepUsage {
        let model = (answer["model"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? endpoint.model
        return StepUsage(model: model, inputTokens: tokens.input, outputTokens: tokens.output,
                         costUSD: prices.cost(model: model, inputTokens: tokens.input, outputTokens: tokens.output))
    }

    private func send(_ original: HTTPClientRequest) async throws -> [String: Any] {
        var request = original
        request.connectTimeout = .seconds(15)
        request.maxResponseBytes = 16 << 20
        let response: HTTPClientResponse
        do {
            response = try await http.send(request)
        } catch let error as HTTPClientError {
            switch error {
            case .timedOut: throw PluginError.transient("the analysis service did not answer in time")
            case .connectionFailed: throw PluginError.transient("could not reach the analysis service at \(endpoint.host)")
            case .responseTooLarge: throw PluginError.permanent("the analysis service sent an answer too large to read")
            case .cancelled, .shutDown: throw CancellationError()
            case .invalidRequest, .fileUnreadable: throw PluginError.permanent("the analysis request could not be made: \(error)")
            }
        }
        guard (200..<300).contains(response.status) else {
            throw failure(response)
        }
        guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
            // A proxy's HTML page or a truncated body: the service is not well, try again later.
            throw PluginError.transient("the analysis service sent an unreadable answer (HTTP \(response.status))")
        }
        return object
    }

    func failure(_ response: HTTPClientResponse) -> Failure {
        let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any]
        let error = object?["error"] as? [String: Any]
        let message = (error?["message"] as? String) ?? (object?["message"] as? String)
            ?? String(decoding: response.body.prefix(300), as: UTF8.self)
        // Anthropic puts a finer reason in `error.details.error_code` (a spend limit reached is a 429 too).
        let code = (error?["code"] as? String) ?? (error?["code"] as? Int).map(String.init)
            ?? ((error?["details"] as? [String: Any])?["error_code"] as? String)
        return Failure(status: response.status, type: error?["type"] as? String, code: code,
                       message: scrub(message), retryAfter: response.retryAfter)
    }

    /// The provider's words, without the key or anything that looks like one, shortened.
    func scrub(_ message: String) -> String {
        var text = message.replacingOccurrences(of: "\n", with: " ")
        if let key = endpoint.apiKey?.value, key.count >= 4 { text = text.replacingOccurrences(of: key, with: "<redacted>") }
        if let pattern = try? NSRegularExpression(pattern: #"\b(sk|key|api)[-_][A-Za-z0-9_*\-]{6,}"#, options: [.caseInsensitive]) {
            text = pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "<redacted>")
        }
        return text.count > 240 ? String(text.prefix(240)) + "…" : text
    }

    /// The failure as the pipeline sees it. `usage` is what earlier calls of the same step spent.
    func pluginError(_ failure: Failure, usage: StepUsage) -> PluginError {
        let lowered = failure.message.lowercased()
        // Prompt plus answer do not fit the model's context: llama.cpp says so with a 500, OpenAI with
        // `context_length_exceeded`. Trying again cannot help.
        if failure.code == "context_length_exceeded" || (lowered.contains("context") && (lowered.contains("exceed") || lowered.contains("too long"))) {
            return PluginError(.permanent, "the document is too long for the model's context window (\(failure.message))", usage: usage)
        }
        let quota = failure.code == "insufficient_quota" || failure.type == "insufficient_quota" || failure.type == "billing_error"
            || failure.code == "enforced_spend_limit_reached"
        let (kind, message): (PluginError.Kind, String) = switch failure.status {
        case 401: (.permanent, "the analysis service rejected the API key")
        case 402: (.permanent, "the analysis service account is out of credit")
        case 429 where quota: (.permanent, "the analysis service account is out of credit")
        case 403: (.permanent, "the analysis service refused access to model \(endpoint.model) (permission denied)")
        case 404: (.permanent, "the analysis service does not know model \(endpoint.model) (or its URL is wrong)")
        case 413: (.permanent, "the document is too large for the analysis service")
        case 408: (.transient, "the analysis service timed out")
        case 409: (.transient, "the analysis service reported a conflict")
        case 429: (.transient, "the analysis service is rate-limiting requests")
        case 529: (.transient, "the analysis service is overloaded")
        case 500...: (.transient, "the analysis service had an error (HTTP \(failure.status)\(failure.message.isEmpty ? "" : ": " + failure.message.prefix(120)))")
        default: (.permanent, "the analysis service refused the request: \(failure.message)")
        }
        return PluginError(kind, message, retryAfter: kind == .transient ? failure.retryAfter : nil, usage: usage)
    }
}
