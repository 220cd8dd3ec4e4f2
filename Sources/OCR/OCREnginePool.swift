import CTesseract
import Foundation
import Logging

/// A fixed set of Tesseract engines, each initialised once on a thread of its own and reused.
///
/// OCR is seconds of CPU work in C: it must never run on the Swift concurrency pool or an event loop,
/// where it would starve every other task. Callers `await recognize(_:)`; the work is queued to the
/// first free engine thread and the caller's task is resumed when it is done.
public final class OCREnginePool: Sendable {
    public let configuration: OCRConfiguration
    private let queue: OCRJobQueue
    private let stopped: Latch
    private let scratch: URL
    private let logger: Logger

    /// Starts `configuration.workers` engine threads and returns once every engine is ready.
    public init(configuration: OCRConfiguration, scratchDirectory: URL? = nil, logger: Logger = Logger(label: "ocr")) async throws {
        Self.silenceLeptonica
        self.configuration = configuration
        self.logger = logger
        self.queue = OCRJobQueue()
        let workers = configuration.workers
        let scratch = (scratchDirectory ?? FileManager.default.temporaryDirectory)
            .appendingPathComponent("botgateway-ocr-\(getpid())-\(UUID().uuidString.prefix(8))")
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw OCRError.engineUnavailable(reason: "cannot create the scratch folder \(scratch.path): \(error.localizedDescription)")
        }
        self.scratch = scratch
        self.stopped = Latch(count: workers)
        if !Self.openMPLimited {
            logger.warning("OMP_THREAD_LIMIT is not set: Tesseract's OpenMP threads will contend; the botgateway binary sets it by re-executing itself")
        }

        let ready = Latch(count: workers)
        for index in 0..<workers {
            let thread = Thread { [queue, stopped] in
                Self.workerLoop(index: index, configuration: configuration, scratch: scratch, queue: queue, ready: ready, stopped: stopped)
            }
            thread.name = "ocr-engine-\(index)"
            // Tesseract recurses deeply on some layouts; the default secondary-thread stack is too small.
            thread.stackSize = 16 << 20
            thread.start()
        }
        let failures = await ready.wait()
        if let failure = failures.first {
            queue.close()
            _ = await stopped.wait()
            try? FileManager.default.removeItem(at: scratch)
            throw failure
        }
        logger.info("OCR engines ready", metadata: [
            "workers": "\(workers)", "languages": "\(configuration.languages)", "tesseract": "\(TesseractEngine.version)",
        ])
    }

    /// Reads one document. Throws `OCRError` for anything wrong with the document or the engine,
    /// `CancellationError` if the calling task is cancelled before an engine picks the job up.
    /// With `searchablePDF` the result also carries the document as a PDF with a text layer (`OCRResult.searchablePDF`).
    public func recognize(_ input: OCRInput, searchablePDF: Bool = false) async throws -> OCRResult {
        let id = queue.makeID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                queue.push(OCRJob(id: id, input: input, searchablePDF: searchablePDF, enqueued: .now, continuation: continuation))
                // Cancelled before the push landed: the handler found nothing to remove, so remove it here.
                if Task.isCancelled { queue.cancel(id) }
            }
        } onCancel: {
            queue.cancel(id)
        }
    }

    deinit {
        // A pool dropped without `shutdown()` still lets its threads end and free their engines.
        queue.close()
    }

    /// Documents waiting for a free engine.
    public var queueDepth: Int { queue.pendingCount }

    /// Engines reading a document now.
    public var busyEngines: Int { queue.readingCount }

    /// Finishes the documents being read, refuses the ones still queued, and stops every engine.
    public func shutdown() async {
        queue.close()
        _ = await stopped.wait()
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Whether OpenMP inside Tesseract was limited before the process started (it is read when libgomp loads).
    public static var openMPLimited: Bool {
        getenv("OMP_THREAD_LIMIT") != nil
    }

    public static var tesseractVersion: String { TesseractEngine.version }

    private static let silenceLeptonica: Void = {
        _ = setMsgSeverity(Int32(L_SEVERITY_NONE))
    }()

    private static func workerLoop(index: Int, configuration: OCRConfiguration, scratch: URL, queue: OCRJobQueue, ready: Latch, stopped: Latch) {
        defer { stopped.arrive(nil) }
        let reader: DocumentReader
        do {
            reader = try DocumentReader(configuration: configuration, scratch: scratch)
        } catch {
            ready.arrive(error)
            return
        }
        ready.arrive(nil)
        while let job = queue.next() {
            let waited = (ContinuousClock.now - job.enqueued).milliseconds
            do {
                job.continuation.resume(returning: try reader.read(job.input, searchablePDF: job.searchablePDF, queueMilliseconds: waited))
            } catch {
                job.continuation.resume(throwing: error)
            }
            queue.finished()
        }
    }
}

struct OCRJob: Sendable {
    let id: UInt64
    let input: OCRInput
    let searchablePDF: Bool
    let enqueued: ContinuousClock.Instant
    let continuation: CheckedContinuation<OCRResult, Error>
}

/// The engines' shared work queue: FIFO, blocking `next()` for engine threads only.
final class OCRJobQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [OCRJob] = []
    private var head = 0
    private var closed = false
    private var reading = 0
    private var lastID: UInt64 = 0

    func makeID() -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        lastID += 1
        return lastID
    }

    func push(_ job: OCRJob) {
        condition.lock()
        if closed {
            condition.unlock()
            job.continuation.resume(throwing: OCRError.shutDown)
            return
        }
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Removes a job that no engine has started; a running job finishes (Tesseract is not interruptible mid-page).
    func cancel(_ id: UInt64) {
        condition.lock()
        if let position = jobs[head...].firstIndex(where: { $0.id == id }) {
            let job = jobs.remove(at: position)
            condition.unlock()
            job.continuation.resume(throwing: CancellationError())
            return
        }
        condition.unlock()
    }

    /// Blocks the engine thread until a job arrives; nil once the queue is closed.
    func next() -> OCRJob? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count && !closed {
            condition.wait()
        }
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        reading += 1
        if head > 64 && head * 2 > jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    var pendingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count - head
    }

    /// Jobs taken by an engine and not yet answered.
    var readingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return reading
    }

    /// An engine answered the job it took.
    func finished() {
        condition.lock()
        reading -= 1
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        let refused = jobs[head...]
        jobs.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
        for job in refused {
            job.continuation.resume(throwing: OCRError.shutDown)
        }
    }
}

/// Counts threads arriving and lets one async caller wait for all of them, collecting their errors.
final class Latch: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: Int
    private var errors: [Error] = []
    private var waiter: CheckedContinuation<[Error], Never>?

    init(count: Int) {
        remaining = count
    }

    func arrive(_ error: Error?) {
        lock.lock()
        if let error { errors.append(error) }
        remaining -= 1
        let done = remaining == 0 ? waiter : nil
        if done != nil { waiter = nil }
        let collected = errors
        lock.unlock()
        done?.resume(returning: collected)
    }

    func wait() async -> [Error] {
        await withCheckedContinuation { continuation in
            lock.lock()
            if remaining <= 0 {
                let collected = errors
                lock.unlock()
                continuation.resume(returning: collected)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}
