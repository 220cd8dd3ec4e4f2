import Foundation
import Storage

/// Documents in a store as if the pipeline had read and analysed them: a job per upload, its `ocr` step done
/// with the text, its `analyze` step done with the analysis. For tests and benchmarks of what reads finished
/// documents (`/ask`, reports) without running OCR.
public enum ReadDocuments {
    /// A document `user` sent in their private chat; returns the job's code.
    public static func add(to store: any GatewayStore, user: Int64, document: DocumentRecord, name: String, text: String, analysis: Data,
                           now: Timestamp = .now) async throws -> String {
        _ = try await store.saveDocument(document)
        let request = JobRequest(origin: .telegram, sourceName: name, chatID: user, userID: user, messageID: 1, sourceKey: "read:\(user):\(UUID().uuidString)")
        let job = try await store.enqueue(documentSHA256: document.sha256, request: request, steps: ["ocr", "analyze"], now: now).job
        guard var claimed = try await store.claimNextJob(owner: "read-documents", leaseSeconds: 60, groupID: nil, now: now), claimed.job.id == job.id else {
            throw StorageError.notFound("the job just queued (another job was due first)")
        }
        for output in [Data("{}".utf8), analysis] {
            let documentText = claimed.currentStep.plugin == "ocr" ? DocumentText(text: text, result: Data("{}".utf8), pages: 1) : nil
            guard let next = try await store.finishStep(claimed, output: output, usage: StepUsage(), milliseconds: 1, outcome: .done,
                                                        documentText: documentText, now: now) else { break }
            claimed = next
        }
        return job.code
    }

    /// A document row for bytes never stored (its hash made from `seed`).
    public static func document(seed: Int, name: String) -> DocumentRecord {
        let sha = String(format: "%064x", seed)
        return DocumentRecord(sha256: sha, format: "png", mimeType: "image/png", size: 100, blobPath: "blobs/\(sha)", originalName: name, createdAt: 1_000)
    }
}
