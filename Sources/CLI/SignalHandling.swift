import Dispatch
import Foundation

/// Ctrl-C and SIGTERM cancel the running work instead of killing the process, so workers hand their
/// jobs back to the database and the next run resumes them at once.
enum SignalHandling {
    /// Runs `body` in a task that SIGINT/SIGTERM cancel; returns true when a signal arrived.
    static func runCancellable(_ body: @escaping @Sendable () async -> Void) async -> Bool {
        let task = Task { await body() }
        let flag = SignalFlag()
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                flag.set()
                task.cancel()
            }
            source.resume()
            sources.append(source)
        }
        await task.value
        for source in sources { source.cancel() }
        return flag.isSet
    }
}

final class SignalFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
