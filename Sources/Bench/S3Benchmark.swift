import ArgumentParser
import CurlHTTP
import Foundation
import S3
import TestSupport

/// Uploads files of growing size to SeaweedFS (started on loopback) from a child process each, and prints
/// time and the child's peak RSS: multipart uploads stream from disk, so RSS must not grow with the file.
struct S3Benchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "s3", abstract: "S3 upload time and peak RSS by file size (multipart, streamed).")

    @Option(help: "File sizes in MB, comma-separated.")
    var sizes = "8,40,160"

    func run() async throws {
        let server = try await SeaweedFS.start()
        let http = HTTPClient()
        let client = S3Client(configuration: S3Configuration(bucket: "bench", endpoint: server.endpoint, forcePathStyle: true,
                                                             credentials: AWSCredentials(accessKeyID: server.accessKey, secretAccessKey: server.secretKey)),
                              http: http)
        try await client.createBucket()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("s3-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        print("S3 benchmark: SeaweedFS on loopback, one child process per upload (peak RSS by GNU time)")
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        for megabytes in sizes.split(separator: ",").compactMap({ Int($0) }) {
            let path = folder.appendingPathComponent("file-\(megabytes).bin")
            guard FileManager.default.createFile(atPath: path.path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
            let handle = try FileHandle(forWritingTo: path)
            var generator = SystemRandomNumberGenerator()
            let chunk = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            for _ in 0..<megabytes { try handle.write(contentsOf: chunk) }
            try handle.close()
            let started = ContinuousClock.now
            let outcome = try ChildProcess.run([me, "s3-upload", path.path, server.endpoint.absoluteString, server.accessKey, server.secretKey],
                                               environment: ChildProcess.environment(), measureMemory: true)
            let seconds = (ContinuousClock.now - started).seconds
            let stored = try await client.headObject("bench/\(megabytes).bin")?.size ?? 0
            print(String(format: "  %4d MB: %6.2f s (%5.1f MB/s), peak RSS %d MB, stored %d bytes, exit %d", megabytes, seconds,
                         Double(megabytes) / seconds, outcome.peakRSSKilobytes / 1024, stored, outcome.exitCode))
            try? FileManager.default.removeItem(at: path)
        }
        http.shutdown()
        await server.stop()
    }
}

/// The measured child of `S3Benchmark`: one upload, nothing else.
struct S3UploadChild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "s3-upload", shouldDisplay: false)

    @Argument var path: String
    @Argument var endpoint: String
    @Argument var accessKey: String
    @Argument var secretKey: String

    func run() async throws {
        let http = HTTPClient()
        defer { http.shutdown() }
        let client = S3Client(configuration: S3Configuration(bucket: "bench", endpoint: URL(string: endpoint), forcePathStyle: true,
                                                             credentials: AWSCredentials(accessKeyID: accessKey, secretAccessKey: secretKey)), http: http)
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent.replacingOccurrences(of: "file-", with: "")
        try await client.putObject("bench/\(name).bin", file: path, contentType: "application/octet-stream")
    }
}
