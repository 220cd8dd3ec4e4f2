import Foundation
import Plugins
import Storage

/// Shows a batch's progress: a bar on a terminal (stderr), or JSON lines on stdout for scripts.
final class BatchProgress: PipelineObserver, @unchecked Sendable {
    private let json: Bool
    private let lock = NSLock()
    private var total = 0
    private var done = 0
    private var failed = 0
    private var started = ContinuousClock.now

    init(json: Bool) {
        self.json = json
    }

    func enqueued(files: Int, new: Int, resumed: Int, skipped: [ReportBuilder.Skipped]) {
        if json {
            emit(["event": "enqueued", "files": files, "new": new, "resumed": resumed, "skipped": skipped.count])
            for item in skipped { emit(["event": "skipped", "file": item.name, "reason": item.reason]) }
        } else {
            var line = "\(files) files: \(new) new, \(resumed) from an earlier run"
            if !skipped.isEmpty { line += ", \(skipped.count) skipped" }
            stderr(line + "\n")
            for item in skipped { stderr("  skipped \(item.name): \(item.reason)\n") }
        }
    }

    func start(total: Int, alreadyDone: Int, alreadyFailed: Int) {
        lock.lock()
        self.total = total
        done = alreadyDone
        failed = alreadyFailed
        started = .now
        lock.unlock()
        draw()
    }

    func pipeline(_ event: PipelineEvent) async {
        switch event {
        case .jobFinished(let job):
            count(done: 1)
            if json { emit(["event": "job", "code": job.code, "file": job.sourceName, "state": "done"]) }
        case .jobFailed(let job, let plugin, let error):
            count(failed: 1)
            if json { emit(["event": "job", "code": job.code, "file": job.sourceName, "state": "failed", "step": plugin, "error": error]) }
        case .retryScheduled(let job, let plugin, let error, let at):
            if json { emit(["event": "retry", "code": job.code, "file": job.sourceName, "step": plugin, "error": error, "at": at]) }
        case .stepFinished:
            return
        }
        draw()
    }

    func report(path: String, done: Int, failed: Int, skipped: Int) {
        if json {
            emit(["event": "report", "path": path, "done": done, "failed": failed, "skipped": skipped])
        } else {
            print("report: \(path) (\(done) done, \(failed) failed, \(skipped) skipped)")
        }
    }

    func message(_ text: String) {
        if json { emit(["event": "message", "text": text]) } else { stderr(text + "\n") }
    }

    func finish() {
        if !json { stderr("\n") }
    }

    private func count(done: Int = 0, failed: Int = 0) {
        lock.lock()
        self.done += done
        self.failed += failed
        lock.unlock()
    }

    private func draw() {
        guard !json else { return }
        lock.lock()
        let (total, done, failed) = (self.total, self.done, self.failed)
        let elapsed = (ContinuousClock.now - started).milliseconds / 1000
        lock.unlock()
        let width = 30
        let finished = done + failed
        let filled = total == 0 ? width : width * finished / total
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        stderr(String(format: "\r%@ %d/%d done, %d failed, %.1f s", bar, finished, total, failed, elapsed))
    }

    private func emit(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        lock.lock()
        FileHandle.standardOutput.write(data + Data("\n".utf8))
        lock.unlock()
    }

    private func stderr(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
