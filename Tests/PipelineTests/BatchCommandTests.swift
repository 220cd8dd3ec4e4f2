import Foundation
import Storage
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `botgateway batch` as a bulk uploader runs it: a real process over a real folder.
@Suite("botgateway batch", .serialized)
struct BatchCommandTests {
    struct Workspace {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("batch-test-\(UUID().uuidString)")
        var folder: URL { root.appendingPathComponent("inbox") }
        var data: URL { root.appendingPathComponent("data") }

        init(files: [(fixture: String, name: String)]) throws {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for file in files {
                try FileManager.default.copyItem(atPath: Paths.fixture(file.fixture), toPath: folder.appendingPathComponent(file.name).path)
            }
        }

        var environment: [String: String] { ["BOT_DATA_DIR": data.path, "OCR_WORKERS": "2", "LOG_LEVEL": "warning"] }

        func batch(_ extra: [String] = []) async throws -> (code: Int32, output: String, error: String) {
            try await Child.run([Paths.binary, "batch", folder.path, "--json"] + extra, environment: environment)
        }

        func database() throws -> AppDatabase {
            try AppDatabase(path: data.appendingPathComponent("botgateway.sqlite").path)
        }

        var report: String { (try? String(contentsOf: folder.appendingPathComponent("botgateway-report.md"), encoding: .utf8)) ?? "" }

        func remove() { try? FileManager.default.removeItem(at: root) }
    }

    static func events(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test("corrupt files are listed as failed with their reason, unsupported ones skipped, all others analysed")
    func corruptFiles() async throws {
        let workspace = try Workspace(files: [
            ("receipt.jpg", "receipt.jpg"), ("invoice.png", "invoice.png"), ("utility-bill.pdf", "bill.pdf"),
            ("bad/truncated.jpg", "truncated.jpg"), ("bad/bomb.png", "bomb.png"), ("bad/corrupt.pdf", "broken.pdf"),
            ("bad/not-an-image.jpg", "notes.jpg"), ("bad/empty.png", "empty.png"),
        ])
        defer { workspace.remove() }
        let run = try await workspace.batch()
        #expect(run.code == 1, "\(run.error)")
        let events = Self.events(run.output)
        let jobs = events.filter { $0["event"] as? String == "job" }
        #expect(Set(jobs.filter { $0["state"] as? String == "done" }.compactMap { $0["file"] as? String }) == ["receipt.jpg", "invoice.png", "bill.pdf"])
        #expect(Set(jobs.filter { $0["state"] as? String == "failed" }.compactMap { $0["file"] as? String }) == ["truncated.jpg", "bomb.png", "broken.pdf"])
        #expect(Set(events.filter { $0["event"] as? String == "skipped" }.compactMap { $0["file"] as? String }) == ["notes.jpg", "empty.png"])
        let report = workspace.report
        #expect(report.contains("- Documents: 6 (3 analysed, 3 failed; 2 files skipped)"))
        #expect(report.contains("truncated.jpg (job "))
        #expect(report.contains("the JPEG file is damaged or incomplete"))
        #expect(report.contains("over the limit of 60 megapixels"))
        #expect(report.contains("- notes.jpg: skipped, not a supported document (plain text)"))
        #expect(report.contains("- empty.png: skipped, the file is empty"))
        #expect(report.contains("Invoice INV-2024-0153 from ACME Office Supplies Ltd."))
        #expect(report.contains("| USD | 363.26 | 1 |"))
    }

    @Test("links, link loops, FIFOs and folders are listed as skipped with their reason, never followed or opened")
    func specialFiles() async throws {
        let workspace = try Workspace(files: [("receipt.jpg", "receipt.jpg")])
        defer { workspace.remove() }
        let folder = workspace.folder
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("link.jpg").path, withDestinationPath: "receipt.jpg")
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("loop-a").path, withDestinationPath: "loop-b")
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("loop-b").path, withDestinationPath: "loop-a")
        #expect(mkfifo(folder.appendingPathComponent("pipe").path, 0o600) == 0)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("sub"), withIntermediateDirectories: true)
        let run = try await workspace.batch()
        #expect(run.code == 0, "\(run.error)")
        var reasons: [String: String] = [:]
        for event in Self.events(run.output) where event["event"] as? String == "skipped" {
            if let file = event["file"] as? String { reasons[file] = event["reason"] as? String }
        }
        #expect(reasons["link.jpg"]?.contains("symbolic link") == true, "\(reasons)")
        #expect(reasons["loop-a"]?.contains("symbolic link") == true)
        #expect(reasons["loop-b"]?.contains("symbolic link") == true)
        #expect(reasons["pipe"]?.contains("named pipe") == true)
        #expect(reasons["sub"]?.contains("--recursive") == true)
        #expect(workspace.report.contains("- pipe: skipped, a named pipe, not a file"))
        #expect(workspace.report.contains("1 analysed, 0 failed; 5 files skipped"))
    }

    @Test("running it again resumes: nothing finished is redone, identical files are one document")
    func resume() async throws {
        let workspace = try Workspace(files: [("receipt.jpg", "a.jpg"), ("receipt.jpg", "copy-of-a.jpg"), ("letter.png", "letter.png")])
        defer { workspace.remove() }
        let first = try await workspace.batch()
        #expect(first.code == 0, "\(first.error)")
        let enqueued = try #require(Self.events(first.output).first { $0["event"] as? String == "enqueued" })
        #expect(enqueued["files"] as? Int == 3)
        #expect(enqueued["new"] as? Int == 2)
        #expect(enqueued["resumed"] as? Int == 0)
        #expect(Self.events(first.output).contains { $0["file"] as? String == "copy-of-a.jpg" && $0["reason"] as? String == "same content as a.jpg" })

        let second = try await workspace.batch()
        #expect(second.code == 0)
        let again = try #require(Self.events(second.output).first { $0["event"] as? String == "enqueued" })
        #expect(again["new"] as? Int == 0)
        #expect(again["resumed"] as? Int == 2)
        #expect(Self.events(second.output).filter { $0["event"] as? String == "job" }.isEmpty)
        let runs = try await workspace.database().completedRunCounts(plugin: "ocr")
        #expect(runs.count == 2)
        #expect(runs.values.allSatisfy { $0 == 1 })
        #expect(workspace.report.contains("- Documents: 2 (2 analysed, 0 failed; 1 file skipped)"))
    }

    @Test("--merge-pattern makes name-1.jpg, name-2.jpg, name-3.jpg one three-page document with one total; a run again resumes it")
    func mergePattern() async throws {
        let workspace = try Workspace(files: [("receipt.jpg", "receipt.jpg")])
        defer { workspace.remove() }
        // The invoice photographed in three parts, sent out of order by name.
        for (index, page) in PagePhotos.bands(of: Paths.fixture("invoice.png"), count: 3).enumerated() {
            try page.write(to: workspace.folder.appendingPathComponent("invoice-\(index + 1).jpg"))
        }
        let first = try await workspace.batch(["--merge-pattern", #"(.+)-(\d+)\.jpg"#])
        #expect(first.code == 0, "\(first.error)")
        let enqueued = try #require(Self.events(first.output).first { $0["event"] as? String == "enqueued" })
        #expect(enqueued["files"] as? Int == 4)
        #expect(enqueued["new"] as? Int == 2, "the receipt and the invoice")
        let jobs = try await workspace.database().jobDetails(since: nil)
        let invoice = try #require(jobs.first { $0.job.sourceName == "invoice.pdf" })
        #expect(invoice.document.pages == 3 && invoice.document.format == "pdf")
        #expect(workspace.report.contains("363.26"))
        #expect(workspace.report.contains("invoice.pdf"))

        let again = try await workspace.batch(["--merge-pattern", #"(.+)-(\d+)\.jpg"#])
        let resumed = try #require(Self.events(again.output).first { $0["event"] as? String == "enqueued" })
        #expect(resumed["resumed"] as? Int == 2 && resumed["new"] as? Int == 0, "the same pages make the same document")

        let bad = try await workspace.batch(["--merge-pattern", "(no-page-group)"])
        #expect(bad.code == 2 && bad.error.contains("two groups"))
    }

    @Test("killed with SIGKILL mid-run and restarted, every document completes exactly once")
    func sigkill() async throws {
        let names = ["invoice.png", "receipt.jpg", "letter.png", "contract-2pages.tif", "statement-scanned.pdf", "utility-bill.pdf",
                     "delivery-photo-tilted.jpg", "payslip-photo-sideways.jpg", "receipt-exif-rotated.jpg", "certificate-low-contrast.png",
                     "notice-small-text.png", "letter-upside-down.png"]
        let workspace = try Workspace(files: names.map { ($0, $0) })
        defer { workspace.remove() }

        let child = try ChildProcess([Paths.binary, "batch", workspace.folder.path, "--json"], environment: ChildProcess.environment(workspace.environment))
        // Kill it once some documents are done and others are mid-OCR.
        var killed = false
        var watcher: AppDatabase?
        for _ in 0..<600 {
            try await Task.sleep(for: .milliseconds(50))
            if watcher == nil, FileManager.default.fileExists(atPath: workspace.data.appendingPathComponent("botgateway.sqlite").path) {
                watcher = try? workspace.database()
            }
            if let counts = try? await watcher?.jobCounts(), counts[.done, default: 0] >= 3 {
                child.signal(SIGKILL)
                killed = true
                break
            }
        }
        #expect(killed, "the batch finished or never started before it could be killed: \(child.standardError)")
        #expect(await child.exit() == 128 + SIGKILL)
        let database = try workspace.database()
        let before = try await database.jobCounts()
        #expect(before[.done, default: 0] < names.count, "nothing was left to resume")

        let rerun = try await workspace.batch()
        #expect(rerun.code == 0, "\(rerun.error)")
        let after = try await database.jobCounts()
        #expect(after[.done] == names.count)
        for plugin in ["ocr", "analyze"] {
            let runs = try await database.completedRunCounts(plugin: plugin)
            #expect(runs.count == names.count, "\(plugin) completed for \(runs.count) jobs")
            #expect(runs.values.allSatisfy { $0 == 1 }, "\(plugin) completed twice for some job: \(runs)")
        }
        #expect(workspace.report.contains("- Documents: \(names.count) (\(names.count) analysed, 0 failed)"))
    }

    @Test("with ANALYZER=claude the report carries the model's fields per document, its summary and the total cost; the key is never printed")
    func claudeBatch() async throws {
        let fake = try await FakeAnthropic.start()
        let workspace = try Workspace(files: [("invoice.png", "invoice.png"), ("receipt.jpg", "receipt.jpg"), ("utility-bill.pdf", "bill.pdf")])
        defer { workspace.remove() }
        var environment = workspace.environment
        environment["ANALYZER"] = "claude"
        environment["ANTHROPIC_API_KEY"] = fake.apiKey
        environment["ANTHROPIC_BASE_URL"] = fake.baseURL
        environment["LOG_LEVEL"] = "debug"
        // The prompt file replaces the built-in prompt; the price file sets this model's price.
        let prompt = workspace.root.appendingPathComponent("prompt.md")
        try Data("You are a careful clerk. Marker 7f3a.".utf8).write(to: prompt)
        environment["ANALYZER_PROMPT_FILE"] = prompt.path
        let prices = workspace.root.appendingPathComponent("prices.json")
        try Data(#"{"\#(fake.model)": {"input": 1, "output": 0}}"#.utf8).write(to: prices)
        environment["LLM_PRICES_FILE"] = prices.path
        let outcome = try await Child.run([Paths.binary, "batch", workspace.folder.path, "--json"], environment: environment)
        await fake.stop()
        #expect(outcome.code == 0, "\(outcome.error)")
        let report = workspace.report
        for name in ["invoice.png", "receipt.jpg", "bill.pdf"] {
            #expect(report.contains("### ") && report.contains("\(fake.model) read \(name)"), "\(report)")
        }
        #expect(report.contains("- Analysed by: \(fake.model)"))
        #expect(report.contains("- LLM: \(fake.model), "))
        #expect(report.contains("### Summary"))
        #expect(report.contains("Executive summary by \(fake.model)"))
        #expect(report.range(of: #"- LLM usage: \d+ input and \d+ output tokens, estimated cost \$0\.\d{4} \(summary: \$0\.\d{4}\)"#, options: .regularExpression) != nil, "\(report)")
        #expect(fake.requests.count == 4)
        #expect(fake.requests.filter { $0.json["tool_choice"] != nil }.count == 3)
        #expect(!outcome.output.contains(fake.apiKey) && !outcome.error.contains(fake.apiKey))
        let stats = try await workspace.database().stats()
        #expect(stats.outputTokens == 4 * 150)
        #expect(fake.requests.filter { $0.json["tool_choice"] != nil }.allSatisfy { $0.json["system"] as? String == "You are a careful clerk. Marker 7f3a." })

        // `jobs show`: the analyze step's tokens and their cost at the configured price ($1 per million input tokens).
        let invoice = try #require(try await workspace.database().jobDetails(groupID: 1).first { $0.job.sourceName == "invoice.png" })
        let analyze = try #require(invoice.steps.first { $0.plugin == "analyze" })
        let shown = try await Child.run([Paths.binary, "jobs", "show", invoice.job.code], environment: workspace.environment)
        #expect(shown.code == 0)
        #expect(shown.output.contains(String(format: "%d+150 tokens, $%.4f", analyze.inputTokens, Double(analyze.inputTokens) / 1_000_000)), "\(shown.output)")
        #expect(shown.output.contains("analysis: \(fake.model) read invoice.png"))
    }

    @Test("analyser configuration: a missing key stops start-up naming the variable; doctor checks the key without spending tokens")
    func analyzerConfiguration() async throws {
        let workspace = try Workspace(files: [("letter.png", "letter.png")])
        defer { workspace.remove() }
        var environment = workspace.environment
        environment["ANALYZER"] = "claude"
        let missing = try await Child.run([Paths.binary, "batch", workspace.folder.path], environment: environment)
        #expect(missing.code == 2)
        #expect(missing.error.contains("ANTHROPIC_API_KEY: required when ANALYZER=claude"), "\(missing.error)")
        environment["ANALYZER"] = "gemini"
        let unknown = try await Child.run([Paths.binary, "batch", workspace.folder.path], environment: environment)
        #expect(unknown.code == 2 && unknown.error.contains("ANALYZER: expected claude, openai or local"))
        environment["ANALYZER"] = "local"
        environment["LLM_PRICES_FILE"] = Paths.fixture("receipt.jpg")
        let prices = try await Child.run([Paths.binary, "batch", workspace.folder.path], environment: environment)
        #expect(prices.code == 2 && prices.error.contains("LLM_PRICES_FILE: expected JSON like"), "\(prices.error)")
        environment["LLM_PRICES_FILE"] = nil
        environment["ANALYZER_PROMPT_FILE"] = workspace.root.appendingPathComponent("no-such-prompt.md").path
        let prompt = try await Child.run([Paths.binary, "batch", workspace.folder.path], environment: environment)
        #expect(prompt.code == 2 && prompt.error.contains("ANALYZER_PROMPT_FILE: cannot read a prompt from"), "\(prompt.error)")

        let fake = try await FakeAnthropic.start()
        var doctorEnvironment = workspace.environment
        doctorEnvironment["ANTHROPIC_API_KEY"] = fake.apiKey
        doctorEnvironment["ANTHROPIC_BASE_URL"] = fake.baseURL
        let doctor = try await Child.run([Paths.binary, "doctor"], environment: doctorEnvironment)
        await fake.stop()
        // ANALYZER unset and an Anthropic key present: claude is the default (SPEC §3).
        #expect(doctor.output.contains("ok    analyser claude: 127.0.0.1:\(URL(string: fake.baseURL)!.port!) accepts the key; model Fake \(fake.model)"), "\(doctor.output)")
        #expect(fake.requests.isEmpty || fake.requests.allSatisfy { $0.path != "/v1/messages" })
        #expect(!doctor.output.contains(fake.apiKey))
    }

    @Test("--no-wait only enqueues; a folder that does not exist is bad usage")
    func noWaitAndUsage() async throws {
        let workspace = try Workspace(files: [("receipt.jpg", "receipt.jpg")])
        defer { workspace.remove() }
        let queued = try await workspace.batch(["--no-wait"])
        #expect(queued.code == 0)
        #expect(try await workspace.database().jobCounts()[.queued] == 1)
        let missing = try await Child.run([Paths.binary, "batch", workspace.root.appendingPathComponent("nope").path], environment: workspace.environment)
        #expect(missing.code == 2)
        #expect(missing.error.contains("is not a folder"))
    }

    @Test("--pdf writes each read document as a searchable PDF next to it (a text PDF gets none), and a run again does not take them in")
    func searchablePDFs() async throws {
        let workspace = try Workspace(files: [("letter.png", "letter.png"), ("receipt.jpg", "sub-receipt.jpg"), ("utility-bill.pdf", "bill.pdf")])
        defer { workspace.remove() }
        let first = try await workspace.batch(["--pdf"])
        #expect(first.code == 0, "\(first.error)")
        for name in ["letter-searchable.pdf", "sub-receipt-searchable.pdf"] {
            let pdf = try Data(contentsOf: workspace.folder.appendingPathComponent(name))
            #expect(pdf.starts(with: Data("%PDF-".utf8)), "\(name)")
        }
        #expect(!FileManager.default.fileExists(atPath: workspace.folder.appendingPathComponent("bill-searchable.pdf").path))
        let messages = Self.events(first.output).compactMap { $0["text"] as? String }
        #expect(messages.contains("bill.pdf: a PDF with its own text, searchable as it is"))
        #expect(messages.contains("2 searchable PDFs written next to the originals"))
        if PDFCheck.missingTools.isEmpty {
            let letter = workspace.folder.appendingPathComponent("letter-searchable.pdf").path
            #expect(try PDFCheck.text(letter).contains("Thank you for your letter"))
        }

        let second = try await workspace.batch(["--pdf"])
        #expect(second.code == 0)
        let again = try #require(Self.events(second.output).first { $0["event"] as? String == "enqueued" })
        #expect(again["files"] as? Int == 3)
        #expect(try await workspace.database().jobCounts().values.reduce(0, +) == 3)
        // Nor a run without --pdf: the PDFs beside their originals are ours, not documents.
        let plain = try await workspace.batch()
        #expect(plain.code == 0)
        #expect(Self.events(plain.output).first { $0["event"] as? String == "enqueued" }?["files"] as? Int == 3)
        #expect(try await workspace.database().jobCounts().values.reduce(0, +) == 3)

        // Into a folder of their own (inside the batch folder: left out of the documents).
        let folder = workspace.folder.appendingPathComponent("pdf")
        let third = try await workspace.batch(["--pdf", "--pdf-folder", folder.path])
        #expect(third.code == 0)
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("letter-searchable.pdf").path))
        #expect(try await workspace.database().jobCounts().values.reduce(0, +) == 3)
        let usage = try await workspace.batch(["--pdf-folder", folder.path])
        #expect(usage.code == 2 && usage.error.contains("--pdf-folder goes with --pdf"))
    }
}
