import CurlHTTP
import Foundation
import TestSupport

/// A small W3C WebDriver client driving Debian's headless Chromium through `chromedriver` on loopback: the
/// commands the dashboard's browser tests need (navigate, find, click, type, read, run a check, screenshot).
final class WebDriver: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Why a browser cannot run here (nil when it can).
    static var unavailableReason: String? {
        for path in ["/usr/bin/chromedriver", "/usr/bin/chromium"] where !FileManager.default.isExecutableFile(atPath: path) {
            return "\(path) is missing (scripts/setup installs Debian's chromium and chromium-driver)"
        }
        return nil
    }

    private let driver: ChildProcess
    private let http = HTTPClient()
    private let base: String
    private let session: String
    private let profile: URL

    private init(driver: ChildProcess, base: String, session: String, profile: URL) {
        self.driver = driver
        self.base = base
        self.session = session
        self.profile = profile
    }

    static func start() async throws -> WebDriver {
        // A port the kernel just handed out can still be taken by another test's server before chromedriver binds
        // it; chromedriver then exits and that server answers instead. Only chromedriver's own ready answer counts,
        // and a lost port is tried again with another.
        var attempt = 0
        while true {
            attempt += 1
            guard let port = LoopbackSocket.freePort() else { throw Failure(description: "no free loopback port for chromedriver") }
            let driver = try ChildProcess(["/usr/bin/chromedriver", "--port=\(port)", "--allowed-ips=127.0.0.1"])
            let base = "http://127.0.0.1:\(port)"
            if await ready(base) {
                do {
                    return try await openSession(driver: driver, base: base)
                } catch {
                    await kill(driver)
                    throw error
                }
            }
            await kill(driver)
            if attempt == 3 { throw Failure(description: "chromedriver did not start: \(driver.standardError)") }
        }
    }

    /// Whether chromedriver itself answers `/status` on `base` as ready (within 10 s).
    private static func ready(_ base: String) async -> Bool {
        let http = HTTPClient()
        defer { http.shutdown() }
        for _ in 0..<100 {
            if let status = try? await http.send(HTTPClientRequest(url: base + "/status")), status.status == 200 {
                let json = (try? JSONSerialization.jsonObject(with: status.body)) as? [String: Any]
                let value = json?["value"] as? [String: Any]
                return value?["ready"] as? Bool == true && (value?["message"] as? String ?? "").contains("ChromeDriver")
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    private static func kill(_ driver: ChildProcess) async {
        driver.signal(SIGKILL)
        _ = await driver.exit()
    }

    private static func openSession(driver: ChildProcess, base: String) async throws -> WebDriver {
        let http = HTTPClient()
        defer { http.shutdown() }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": [
            "browserName": "chrome",
            "timeouts": ["pageLoad": 30_000, "script": 10_000, "implicit": 0],
            "goog:chromeOptions": [
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
                         "--user-data-dir=\(profile.path)", "--no-first-run", "--disable-extensions"],
            ],
        ]]]
        let reply = try await Self.command(http, "POST", base + "/session", capabilities)
        guard let session = (reply["value"] as? [String: Any])?["sessionId"] as? String else {
            throw Failure(description: "no browser session: \(reply)")
        }
        return WebDriver(driver: driver, base: base, session: session, profile: profile)
    }

    func stop() async {
        _ = try? await Self.command(http, "DELETE", "\(base)/session/\(session)", nil)
        // chromedriver may linger on SIGTERM while its browser closes: a few seconds, then SIGKILL.
        driver.signal(SIGTERM)
        let driver = self.driver
        let killer = Task {
            try await Task.sleep(for: .seconds(5))
            driver.signal(SIGKILL)
        }
        _ = await driver.exit()
        killer.cancel()
        http.shutdown()
        try? FileManager.default.removeItem(at: profile)
    }

    private static func command(_ http: HTTPClient, _ method: String, _ url: String, _ body: [String: Any]?) async throws -> [String: Any] {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let response = try await http.send(HTTPClientRequest(method: method, url: url, headers: [("Content-Type", "application/json")],
                                                             body: data.map { .data($0) } ?? .none, timeout: .seconds(60)))
        let json = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        if response.status >= 400 {
            throw Failure(description: "WebDriver \(method) \(url): \(response.status) \((json["value"] as? [String: Any])?["message"] ?? "")")
        }
        return json
    }

    @discardableResult
    private func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        try await Self.command(http, method, "\(base)/session/\(session)\(path)", method == "POST" ? (body ?? [:]) : nil)["value"]
    }

    func open(_ url: String) async throws {
        try await call("POST", "/url", ["url": url])
    }

    var url: String {
        get async throws { try await call("GET", "/url") as? String ?? "" }
    }

    /// The element's id for a CSS selector (throws when there is none).
    func find(_ selector: String) async throws -> String {
        let value = try await call("POST", "/element", ["using": "css selector", "value": selector]) as? [String: Any]
        guard let id = value?.values.first as? String else { throw Failure(description: "no element \(selector)") }
        return id
    }

    /// Waits (up to 15 s) until `selector` matches something or the page's text holds `text`: a form's
    /// submission can return before its answer is shown.
    @discardableResult
    func wait(for selector: String = "body", text: String? = nil) async throws -> Bool {
        for _ in 0..<150 {
            // The page may be replaced between two commands (a stale element): look again.
            if (try? await count(selector)) ?? 0 > 0 {
                guard let text else { return true }
                if (try? await self.text())?.contains(text) == true { return true }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func count(_ selector: String) async throws -> Int {
        (try await call("POST", "/elements", ["using": "css selector", "value": selector]) as? [Any])?.count ?? 0
    }

    func click(_ selector: String) async throws {
        try await call("POST", "/element/\(try await find(selector))/click")
    }

    func type(_ text: String, into selector: String) async throws {
        let element = try await find(selector)
        try await call("POST", "/element/\(element)/clear")
        try await call("POST", "/element/\(element)/value", ["text": text])
    }

    /// The page's visible text.
    func text(_ selector: String = "body") async throws -> String {
        try await call("GET", "/element/\(try await find(selector))/text") as? String ?? ""
    }

    /// Runs `script` through the driver (not the page: the page's own policy allows no script).
    func evaluate(_ script: String) async throws -> Any? {
        try await call("POST", "/execute/sync", ["script": script, "args": []])
    }

    /// A PNG of the viewport.
    func screenshot() async throws -> Data {
        guard let encoded = try await call("GET", "/screenshot") as? String, let data = Data(base64Encoded: encoded) else {
            throw Failure(description: "no screenshot")
        }
        return data
    }
}
