@testable import BotGateway
import Foundation
import OCR
import Storage
import Testing
import TestSupport
import UseCases

/// The dashboard in a real browser (Debian's headless Chromium through chromedriver): an admin signs in through
/// a `/dashboard` link, sees an upload batch's jobs, cancels them in bulk, opens a failed job and retries it,
/// searches a word and opens the document; every page leaves a screenshot in `artifacts/screenshots/`. A
/// document whose name and text carry script, an `onerror` image and a `javascript:` link renders inert on
/// every page. A used link is refused.
@Suite("Dashboard in a browser", .serialized)
struct DashboardBrowserTests {
    static let screenshots = GatewayHarness.root.appendingPathComponent("artifacts/screenshots")

    static let hostileName = #"<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">.png"#
    static let hostileText = """
        INVOICE <script>window.__xss=4</script> from Zebra Hostile Ltd
        Total "><img src=x onerror="window.__xss=5"> EUR 12.50
        <a href="javascript:window.__xss=6">click me</a> javascript:window.__xss=7
        Date 2026-11-20 zebra
        """

    func save(_ browser: WebDriver, _ name: String) async throws {
        try FileManager.default.createDirectory(at: Self.screenshots, withIntermediateDirectories: true)
        let png = try await browser.screenshot()
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(name) is a PNG")
        try png.write(to: Self.screenshots.appendingPathComponent("\(name).png"))
    }

    /// Nothing from the hostile document ran or became markup on the page now shown.
    func expectInert(_ browser: WebDriver, _ page: String) async throws {
        #expect(try await browser.evaluate("return typeof window.__xss") as? String == "undefined", "script ran on \(page)")
        #expect(try await browser.count("script") == 0, "a script element on \(page)")
        #expect(try await browser.count("img[onerror]") == 0, "an onerror image on \(page)")
        #expect(try await browser.count("a[href^='javascript']") == 0, "a javascript: link on \(page)")
    }

    @Test("sign in by link, a batch's jobs, bulk cancel, a failed job retried, search and a document; screenshots; hostile content inert",
          .enabled(if: WebDriver.unavailableReason == nil || ProcessInfo.processInfo.environment["CI"] != nil))
    func walkThrough() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("no browser: \(reason)"); return }
        let gateway = try await GatewayHarness.start(admins: [1])
        let browser: WebDriver
        do {
            browser = try await WebDriver.start()
        } catch {
            await gateway.stop()
            throw error
        }
        do {
            let site = "http://127.0.0.1:\(gateway.port)"
            try await gateway.post(Updates.text(update: 1, user: 1, message: 1, "/dashboard"))
            let token = try await DashboardFlowTests.linkToken(gateway, chat: 1)

            // Sign in: the link's page, then its button.
            try await browser.open("\(site)/admin/signin?t=\(token)")
            try await save(browser, "01-sign-in")
            try await browser.click("form[action='/admin/signin'] button")
            #expect(try await browser.wait(text: "Signed in."))
            #expect(try await browser.url.hasSuffix("/admin?notice=signed-in"))
            // The session cookie is not readable by script.
            #expect(try await browser.evaluate("return document.cookie") as? String == "")

            // Pause, so the batch waits where it can be seen.
            try await browser.click("form[action='/admin/pipeline'] button")
            #expect(try await browser.wait(text: "The pipeline is paused"))

            let api = try await APITokenService(store: gateway.database).create(name: "scanner", scopes: [.upload, .read]).secret
            for name in ["invoice.png", "letter.png", "notice-small-text.png"] {
                #expect(try await APIFlowTests.upload(gateway, try GatewayHarness.fixture(name), name: name, token: api, query: "group=batch-7").status == 202)
            }
            let hostileName = Self.hostileName.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let hostile = try await APIFlowTests.upload(gateway, try GatewayHarness.fixture("letter-upside-down.png"), name: hostileName, token: api,
                                                        query: "group=batch-7")
            #expect(hostile.status == 202)
            let hostileCode = try #require((hostile.json["job"] as? [String: Any])?["code"] as? String)
            let hostileJob = try #require(try await gateway.database.jobDetails(code: hostileCode))
            // Its text as if the OCR had read it (the OCR step keeps text read before).
            let page = OCRPage(index: 0, text: Self.hostileText, confidence: 90, source: .ocr, width: 800, height: 600, milliseconds: 1)
            let result = OCRResult(format: .png, pages: [page], timings: OCRTimings())
            try await gateway.database.saveOCR(sha256: hostileJob.document.sha256, text: Self.hostileText, result: try JSONEncoder().encode(result), pages: 1)

            // The batch's jobs, filtered by origin.
            try await browser.open("\(site)/admin/jobs?origin=api")
            #expect(try await browser.text().contains("4 jobs match."))
            #expect(try await browser.count("table.jobs tbody tr") == 4)
            try await save(browser, "02-jobs")
            try await expectInert(browser, "the jobs list")

            // Cancel them all: a confirmation with the count first.
            try await browser.click("form.bulk button[value='cancel']")
            #expect(try await browser.wait(text: "Cancel 4 queued or running jobs matching this filter?"))
            try await save(browser, "03-confirm-cancel")
            try await browser.click("form[action='/admin/jobs/bulk'] button")
            #expect(try await browser.wait(text: "The jobs are cancelled."))
            try await browser.open("\(site)/admin")
            try await browser.click("form[action='/admin/pipeline'] button")
            #expect(try await browser.wait(text: "The pipeline runs again."))

            // Open a failed job and retry it.
            try await browser.open("\(site)/admin/jobs?state=failed")
            try await browser.click("table.jobs tbody tr:last-child a")
            #expect(try await browser.wait(text: "Cancelled by an admin on the dashboard."))
            try await save(browser, "04-failed-job")
            let failedCode = String(try await browser.url.split(separator: "/").last ?? "")
            try await browser.click("form[action$='/retry'] button")
            #expect(try await browser.wait(text: "The job is queued again."))
            // And the rest, in bulk.
            try await browser.open("\(site)/admin/jobs?state=failed")
            try await browser.click("form.bulk button[value='retry']")
            #expect(try await browser.wait(text: "Retry 3 failed jobs matching this filter?"))
            try await browser.click("form[action='/admin/jobs/bulk'] button")
            let settled = try await poll(timeout: .seconds(120)) {
                try await gateway.database.countJobs(JobFilter(state: .done)) == 4
            }
            #expect(settled, "the retried jobs are read")
            try await browser.open("\(site)/admin/jobs/\(failedCode)")
            #expect(try await browser.text().contains("done"))

            // Search a word, open the document.
            try await browser.open("\(site)/admin/documents")
            try await browser.type("Springfield", into: "input[name='q']")
            try await browser.click("form[role='search'] button")
            #expect(try await browser.wait(for: "ol.hits mark"))
            #expect(try await browser.count("ol.hits li") == 1)
            try await save(browser, "05-search")
            try await browser.click("ol.hits li a")
            #expect(try await browser.wait(for: ".page img"))
            #expect(try await browser.count(".page img") == 1)
            #expect(try await browser.text("pre").contains("INVOICE"))
            #expect(try await browser.evaluate("return document.querySelector('.page img').naturalWidth") as? Int ?? 0 > 0, "the original is shown")
            try await save(browser, "06-document")

            // The hostile document, on every page that shows it.
            try await browser.open("\(site)/admin/jobs/\(hostileCode)")
            // The name lost what looked like a path ("</script>"); the rest, and the analysis of the text, show as text.
            #expect(try await browser.text().contains(#"script>"><img src=x onerror="window.__xss=2">.png"#))
            #expect(try await browser.text().contains("INVOICE <script>window.__xss=4</script> from Zebra Hostile Ltd"))
            try await expectInert(browser, "the hostile job")
            try await save(browser, "07-hostile-job")
            try await browser.open("\(site)/admin/documents/\(hostileJob.document.sha256)")
            #expect(try await browser.text().contains(#"<a href="javascript:window.__xss=6">click me</a>"#))
            try await expectInert(browser, "the hostile document")
            try await save(browser, "08-hostile-document")
            try await browser.open("\(site)/admin/documents?q=zebra")
            #expect(try await browser.count("ol.hits li") == 1)
            try await expectInert(browser, "the search results")
            for (path, name) in [("/admin", "09-overview"), ("/admin/jobs", "10-all-jobs"), ("/admin/costs", "11-costs"), ("/admin/users", "12-users")] {
                try await browser.open(site + path)
                try await expectInert(browser, path)
                try await save(browser, name)
            }

            // The link again: refused.
            try await browser.open("\(site)/admin/signin?t=\(token)")
            try await browser.click("form[action='/admin/signin'] button")
            #expect(try await browser.wait(text: "used already"))
            try await save(browser, "13-link-used")
        } catch {
            await browser.stop()
            await gateway.stop()
            throw error
        }
        await browser.stop()
        await gateway.stop()
    }
}
