import Foundation
import Hummingbird
import Logging
import Storage

/// `GET /healthz` (the process answers) and `GET /readyz` (the database answers and the data folder has room
/// for documents; OCR engines are up before the server starts listening).
struct HealthController {
    let queue: any JobQueue
    let dataDirectory: URL
    let minimumFreeBytes: Int64

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            func notReady(_ why: String) -> Response {
                Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: why + "\n")))
            }
            do {
                _ = try await queue.jobCounts()
            } catch {
                return notReady("database unavailable")
            }
            if let free = DiskSpace.available(at: dataDirectory), free < minimumFreeBytes {
                return notReady("low disk space: \(free / 1_000_000) MB free in the data folder, below BOT_MIN_FREE_MB (\(minimumFreeBytes / 1_000_000) MB)")
            }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
        }
    }
}
