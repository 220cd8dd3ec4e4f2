import Dispatch

/// Runs file work that blocks (copying and fsyncing a download into the blob store) on a Dispatch
/// queue instead of the Swift concurrency pool, whose few threads must stay free for the server.
enum BlockingWork {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
