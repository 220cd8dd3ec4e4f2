import Foundation
import Logging
import OCR
import Storage

/// One step of the pipeline. A plugin must be safe to run twice on the same job: after a crash the
/// step it was in runs again.
public protocol Plugin: Sendable {
    var name: String { get }
    /// A deferrable step (archiving) does not hold back the answer: the document counts as analysed, a
    /// batch may finish while it still retries, and it is retried under its own policy.
    var isDeferrable: Bool { get }
    /// The step whose output is the answer the requester waits for (`analyze`): once it is done they are told.
    var producesAnswer: Bool { get }
    /// Overrides the pipeline's retry policy for this step.
    var retryPolicy: RetryPolicy? { get }
    func run(_ context: PluginContext) async throws -> PluginResult
}

extension Plugin {
    public var isDeferrable: Bool { false }
    public var producesAnswer: Bool { false }
    public var retryPolicy: RetryPolicy? { nil }
}

/// What a plugin sees: the job, its document, and what earlier steps produced.
public struct PluginContext: Sendable {
    public var job: JobRecord
    public var document: DocumentRecord
    /// Absolute path of the document's bytes.
    public var documentPath: String
    /// Outputs of the steps already done, by plugin name.
    public var outputs: [String: Data]
    public var logger: Logger

    public init(job: JobRecord, document: DocumentRecord, documentPath: String, outputs: [String: Data], logger: Logger) {
        self.job = job
        self.document = document
        self.documentPath = documentPath
        self.outputs = outputs
        self.logger = logger
    }

    /// The OCR step's result, when it has run.
    public func ocrResult() throws -> OCRResult? {
        try StepOutput.ocr(outputs[StepOutput.ocrStep])
    }

    /// The analysis as stored (JSON), when the analyse step has run.
    public var analysisJSON: Data? { outputs[StepOutput.analysisStep] }
}

public struct PluginResult: Sendable {
    /// JSON stored as the step's output.
    public var output: Data
    /// Tokens and cost of the LLM calls made, if any.
    public var usage: StepUsage
    /// The result came from earlier work (e.g. the same document read before).
    public var reused: Bool
    /// The document's text, when this step read it: the pipeline keeps it with the document (for reuse when the
    /// same content comes again, and for search) in the transaction that records the step.
    public var documentText: DocumentText?

    public init(output: Data, usage: StepUsage = StepUsage(), reused: Bool = false, documentText: DocumentText? = nil) {
        self.output = output
        self.usage = usage
        self.reused = reused
        self.documentText = documentText
    }
}

/// A plugin's failure, classified: transient ones are retried with backoff, permanent ones fail the step.
public struct PluginError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case transient
        case permanent
    }

    public var kind: Kind
    /// Plain words for the person who sent the document.
    public var message: String
    /// Seconds the remote side asked us to wait (`retry-after`).
    public var retryAfter: Double?
    /// Tokens spent before the failure, still billed.
    public var usage: StepUsage

    public init(_ kind: Kind, _ message: String, retryAfter: Double? = nil, usage: StepUsage = StepUsage()) {
        self.kind = kind
        self.message = message
        self.retryAfter = retryAfter
        self.usage = usage
    }

    public static func transient(_ message: String, retryAfter: Double? = nil) -> PluginError {
        PluginError(.transient, message, retryAfter: retryAfter)
    }

    public static func permanent(_ message: String) -> PluginError {
        PluginError(.permanent, message)
    }

    public var description: String { message }
}
