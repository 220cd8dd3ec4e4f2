import ArgumentParser
import BotGateway
import CurlHTTP
import Foundation
import Logging
import Plugins
import OCR
import S3
import Storage

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the configuration, tessdata, PDF tools, the database and what is configured to be reachable.",
        discussion: "Prints one line per check; exit code 1 if any check failed."
    )

    func run() async throws {
        let report = Checklist()
        let configuration: GatewayConfiguration
        do {
            configuration = try GatewayConfiguration.fromEnvironment()
            report(true, "configuration: data in \(configuration.dataDirectory.path), OCR_LANGUAGES=\(configuration.ocr.languages), OCR_WORKERS=\(configuration.ocr.workers)")
        } catch {
            report(false, "configuration: \(error)")
            throw WorkFailed()
        }
        await checkOCR(configuration, report)
        await checkDatabase(configuration, report)
        await checkS3(configuration, report)
        await checkAnalyser(configuration, report)
        await checkTelegram(configuration, report)
        if report.failed > 0 { throw WorkFailed(message: "\(report.failed) check(s) failed") }
    }

    private func checkOCR(_ configuration: GatewayConfiguration, _ report: Checklist) async {
        if let tessdata = configuration.ocr.tessdataPath {
            for language in configuration.ocr.languages.split(separator: "+") {
                let path = "\(tessdata)/\(language).traineddata"
                report(FileManager.default.fileExists(atPath: path), "tessdata: \(path)")
            }
            report(FileManager.default.fileExists(atPath: "\(tessdata)/osd.traineddata") ? true : nil,
                   "tessdata: osd.traineddata (turning sideways pages; install tesseract-ocr-osd)")
        } else {
            report(false, "tessdata: no folder found (install tesseract-ocr-eng or set TESSDATA_PREFIX)")
        }
        do {
            var single = configuration.ocr
            single.workers = 1
            let pool = try await OCREnginePool(configuration: single, logger: Logger(label: "doctor", factory: { _ in SwiftLogNoOpLogHandler() }))
            await pool.shutdown()
            report(true, "OCR engine: Tesseract \(OCREnginePool.tesseractVersion) starts")
        } catch {
            report(false, "OCR engine: \(error)")
        }
        report(OCREnginePool.openMPLimited ? true : nil, "OMP_THREAD_LIMIT is set (the binary sets it by re-executing itself)")
        for tool in ["pdfinfo", "pdftotext", "pdftoppm"] {
            let found = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").contains { access("\($0)/\(tool)", X_OK) == 0 }
            report(found, "PDF tool \(tool) (poppler-utils)")
        }
    }

    private func checkDatabase(_ configuration: GatewayConfiguration, _ report: Checklist) async {
        do {
            let (database, _) = try await configuration.openStorage()
            report(true, "database: \(database.location), migrations \(try await database.migrationNames().joined(separator: ", "))")
            let counts = try await database.jobCounts()
            await database.close()
            report(true, "jobs: " + JobState.allCases.map { "\($0.rawValue) \(counts[$0, default: 0])" }.joined(separator: ", "))
        } catch {
            report(false, "database: \(error)")
        }
    }

    private func checkS3(_ configuration: GatewayConfiguration, _ report: Checklist) async {
        if let s3 = configuration.s3 {
            // Credentials, write, read back, delete: what archiving needs.
            let http = HTTPClient()
            let client = S3Client(configuration: s3, http: http)
            do {
                try await client.probe("botgateway-doctor-\(UUID().uuidString).txt")
                report(true, "S3 bucket \(s3.bucket): write, read back and delete")
            } catch {
                report(false, "S3 bucket \(s3.bucket): \(error)")
            }
            http.shutdown()
        } else {
            report(nil, "S3_BUCKET not set: archiving is off")
        }
        await checkBlobStore(configuration, report)
    }

    /// Where documents are kept: the data folder, or with `BLOB_STORE=s3` the bucket every worker reads.
    private func checkBlobStore(_ configuration: GatewayConfiguration, _ report: Checklist) async {
        let http = HTTPClient()
        defer { http.shutdown() }
        guard let remote = configuration.remoteBlobs(http: http) else {
            report(true, "documents on this machine's disk (\(configuration.dataDirectory.appendingPathComponent("blobs").path)); "
                   + "workers on other machines need BLOB_STORE=s3")
            return
        }
        do {
            try await remote.check()
            report(true, "documents in \(remote.location): write, read back and delete")
        } catch {
            report(false, "documents (BLOB_STORE=s3): \(error)")
        }
    }

    private func checkAnalyser(_ configuration: GatewayConfiguration, _ report: Checklist) async {
        if let endpoint = configuration.llm {
            let http = HTTPClient()
            do {
                let model: String
                switch configuration.makeAnalyzer(http: http).analyzer {
                case let claude as ClaudeAnalyzer: model = try await claude.checkAccess()
                case let openAI as OpenAIAnalyzer: model = try await openAI.checkAccess()
                default: model = endpoint.model
                }
                report(true, "analyser \(configuration.analyzer): \(endpoint.host) accepts the key; model \(model)")
            } catch {
                report(false, "analyser \(configuration.analyzer) at \(endpoint.host): \(error)")
            }
            http.shutdown()
        } else {
            report(nil, "analyser local (offline): set ANTHROPIC_API_KEY or OPENAI_API_KEY for LLM analysis")
        }
    }

    private func checkTelegram(_ configuration: GatewayConfiguration, _ report: Checklist) async {
        let environment = ProcessInfo.processInfo.environment
        if environment["TELEGRAM_BOT_TOKEN"]?.isEmpty == false {
            do {
                let settings = try GatewaySettings.fromEnvironment(environment, dataDirectory: configuration.dataDirectory, requireSecret: false)
                let http = HTTPClient()
                defer { http.shutdown() }
                let telegram = TelegramClient(token: settings.token, baseURL: settings.apiBaseURL, http: http)
                let me = try await telegram.getMe()
                report(true, "Telegram: the token belongs to @\(me.username ?? "?") (id \(me.id))")
                let info = try await telegram.getWebhookInfo()
                report(true, "Telegram webhook: \(info.url.isEmpty ? "none (serve --poll)" : info.url), \(info.pendingUpdateCount ?? 0) pending"
                       + (info.lastErrorMessage.map { ", last error: \($0)" } ?? ""))
                report(settings.webhookSecret != nil ? true : nil, "TELEGRAM_WEBHOOK_SECRET " + (settings.webhookSecret != nil ? "set" : "not set: only serve --poll will start"))
            } catch {
                report(false, "Telegram: \(error)")
            }
        } else {
            report(nil, "TELEGRAM_BOT_TOKEN not set: serve will not start (batch, ocr, jobs and users work without it)")
        }
    }
}

/// The doctor's lines: `ok`, `warn` (nil) or `FAIL`, and how many failed.
final class Checklist: @unchecked Sendable {
    private(set) var failed = 0

    func callAsFunction(_ ok: Bool?, _ text: String) {
        let mark = ok == nil ? "warn" : (ok! ? "ok  " : "FAIL")
        if ok == false { failed += 1 }
        print("\(mark)  \(text)")
    }
}
