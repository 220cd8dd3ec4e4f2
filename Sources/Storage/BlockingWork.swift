import Dispatch

/// Runs work that blocks (copying and fsyncing a download into the blob store, decoding and re-encoding
/// page images) on a Dispatch queue instead of the Swift concurrency pool, whose few threads must stay free
/// for the server.
public enum BlockingWork {
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
