import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Group commit for document bytes: many writers that each need their files on disk share one `syncfs(2)`
/// instead of two fsyncs apiece. A caller's files are durable when its `sync()` returns: every caller waits
/// for a flush that began after it asked. Under load one flush covers every upload that arrived meanwhile.
public final class SyncBatcher: Sendable {
    private struct State {
        var flushing = false
        var waiting: [CheckedContinuation<Void, any Error>] = []
    }

    private let state = Mutex(State())
    /// A folder on the file system to flush.
    private let folder: String

    public init(folder: String) {
        self.folder = folder
    }

    public func sync() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let start = state.withLock { state -> Bool in
                state.waiting.append(continuation)
                guard !state.flushing else { return false }
                state.flushing = true
                return true
            }
            if start { DispatchQueue.global(qos: .userInitiated).async { self.flushWhileAsked() } }
        }
    }

    /// Flushes until nobody is waiting; each round answers those who asked before it began.
    private func flushWhileAsked() {
        while true {
            let batch = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
                let batch = state.waiting
                state.waiting = []
                if batch.isEmpty { state.flushing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            let result: Result<Void, any Error>
            let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if descriptor >= 0, syncFileSystem(descriptor) == 0 {
                result = .success(())
            } else {
                result = .failure(StorageError.blobUnavailable(path: folder, reason: String(cString: strerror(errno))))
            }
            if descriptor >= 0 { close(descriptor) }
            for waiter in batch { waiter.resume(with: result) }
        }
    }
}

/// glibc's `syncfs(2)`, which the Glibc module does not export (it sits behind _GNU_SOURCE).
@_silgen_name("syncfs")
func syncFileSystem(_ descriptor: Int32) -> Int32
