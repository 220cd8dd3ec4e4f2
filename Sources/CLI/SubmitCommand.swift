import ArgumentParser
import CurlHTTP
import Foundation

/// A small client of the HTTP API for scripts: uploads files to a gateway and prints each job's code (and,
/// with `--wait`, its outcome). Every request has a timeout; 429 and 503 are retried as `Retry-After` says.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Upload files to a gateway's HTTP API (/api/v1/documents) and print their jobs.",
        discussion: "The token comes from --token or BOTGATEWAY_TOKEN. Exit 1 if any file was refused or, with --wait, failed.")

    @Argument(help: "Files to upload.")
    var files: [String]

    @Option(help: "The gateway's base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(help: "An API token with the upload scope (default: BOTGATEWAY_TOKEN).")
    var token: String?

    @Option(help: "File them in this group (one report, one group.done callback).")
    var group: String?

    @Option(help: "Where the gateway POSTs each result.")
    var callbackURL: String?

    @Flag(help: "Wait for each job to be over and print its state.")
    var wait = false

    @Flag(help: "One JSON object per file per line.")
    var json = false

    func run() async throws {
        guard let token = token ?? ProcessInfo.processInfo.environment["BOTGATEWAY_TOKEN"], !token.isEmpty else {
            throw ValidationError("give a token with --token or BOTGATEWAY_TOKEN (an admin makes one with `botgateway tokens create`)")
        }
        guard let base = URL(string: url), base.scheme == "http" || base.scheme == "https" else { throw ValidationError("--url must be an http(s) URL") }
        let http = HTTPClient(userAgent: "botgateway-submit/1.0")
        defer { http.shutdown() }
        var failed = false
        for file in files {
            let outcome = await submit(file, token: token, base: url.hasSuffix("/") ? String(url.dropLast()) : url, http: http)
            failed = failed || outcome["error"] != nil || outcome["state"] as? String == "failed"
            if json {
                let data = (try? JSONSerialization.data(withJSONObject: outcome, options: [.sortedKeys])) ?? Data()
                print(String(decoding: data, as: UTF8.self))
            } else if let error = outcome["error"] {
                print("\(file): \(error)")
            } else {
                print("\(file): job \(outcome["job"] ?? "?") \(outcome["state"] ?? "")\(outcome["created"] as? Bool == false ? " (sent before)" : "")")
            }
        }
        if failed { throw ExitCode(1) }
    }

    private func submit(_ file: String, token: String, base: String, http: HTTPClient) async -> [String: Any] {
        var query = [URLQueryItem(name: "filename", value: (file as NSString).lastPathComponent)]
        if let group { query.append(URLQueryItem(name: "group", value: group)) }
        if let callbackURL { query.append(URLQueryItem(name: "callback_url", value: callbackURL)) }
        var components = URLComponents(string: base + "/api/v1/documents")!
        components.queryItems = query
        let request = HTTPClientRequest(method: "POST", url: components.url!.absoluteString, headers: [
            ("Authorization", "Bearer \(token)"), ("Content-Type", "application/octet-stream"),
        ], body: .file(path: file, offset: 0, length: nil), timeout: .seconds(300))
        var result: [String: Any] = ["file": file]
        guard FileManager.default.isReadableFile(atPath: file) else {
            result["error"] = "cannot read the file"
            return result
        }
        do {
            let response = try await send(request, http: http)
            let body = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
            guard response.status == 200 || response.status == 202, let job = body["job"] as? [String: Any], let code = job["code"] as? String else {
                result["error"] = "\(response.status): \(body["detail"] as? String ?? String(decoding: response.body.prefix(300), as: UTF8.self))"
                return result
            }
            result["job"] = code
            result["created"] = body["created"]
            result["state"] = job["state"]
            guard wait else { return result }
            while true {
                let status = try await send(HTTPClientRequest(url: "\(base)/api/v1/jobs/\(code)", headers: [("Authorization", "Bearer \(token)")],
                                                              timeout: .seconds(30)), http: http)
                let job = (try? JSONSerialization.jsonObject(with: status.body)) as? [String: Any] ?? [:]
                if let state = job["state"] as? String, state == "done" || state == "failed" {
                    result["state"] = state
                    if let error = job["error"] { result["job_error"] = error }
                    if let analysis = job["analysis"] as? [String: Any] { result["title"] = analysis["title"] }
                    return result
                }
                try await Task.sleep(for: .seconds(1))
            }
        } catch {
            result["error"] = "\(error)"
            return result
        }
    }

    /// One request, again after `Retry-After` (at most a minute, five times) while the gateway says 429 or 503.
    private func send(_ request: HTTPClientRequest, http: HTTPClient) async throws -> HTTPClientResponse {
        var attempt = 0
        while true {
            let response = try await http.send(request)
            attempt += 1
            guard response.status == 429 || response.status == 503, attempt < 5 else { return response }
            try await Task.sleep(for: .milliseconds(Int(min(60, response.retryAfter ?? Double(attempt)) * 1000)))
        }
    }
}
