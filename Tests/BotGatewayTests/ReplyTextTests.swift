@testable import BotGateway
import CurlHTTP
import Foundation
import OCR
import Plugins
import S3
import Storage
import TestSupport
import Testing

/// Reply text as Telegram measures it: UTF-16 units after HTML parsing (the double's `TelegramText` applies
/// Telegram's rules), and what secret-holding values print.
@Suite("Reply text, secrets in descriptions, local file paths")
struct ReplyTextTests {
    /// Every part parses as Telegram HTML and fits; joined, the visible text is all there.
    func expectSendable(_ parts: [String], original: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!parts.isEmpty, sourceLocation: sourceLocation)
        for part in parts {
            #expect(part.utf16.count <= Replies.messageLimit, sourceLocation: sourceLocation)
            #expect(TelegramText.refusal(part, html: true, isCaption: false) == nil, "\(part.prefix(80))…", sourceLocation: sourceLocation)
        }
        let visible = parts.map(Replies.plainText).joined().filter { !$0.isWhitespace }
        #expect(visible == Replies.plainText(original).filter { !$0.isWhitespace }, sourceLocation: sourceLocation)
    }

    @Test("emoji-heavy text splits by UTF-16 units, which Telegram counts, not by characters")
    func emoji() {
        let text = "<b>Scan</b>\n" + String(repeating: "😀", count: 5_000)
        #expect(text.count < 5_100 && text.utf16.count > 10_000)
        expectSendable(Replies.split(text), original: text)
    }

    @Test("a character made of hundreds of combining marks is cut between its scalars")
    func combiningMarks() {
        let zalgo = "a" + String(repeating: "\u{0301}", count: 6_000)
        #expect(zalgo.count == 1)
        let parts = Replies.split("x " + zalgo)
        #expect(parts.count >= 2)
        for part in parts { #expect(part.utf16.count <= Replies.messageLimit) }
    }

    @Test("a cut never falls inside an entity, and tags open at a cut are closed and reopened")
    func entitiesAndTags() {
        let ampersands = "<b>/status</b> " + Replies.escape(String(repeating: "&", count: 5_000))
        expectSendable(Replies.split(ampersands), original: ampersands)
        let bold = "<b>" + Replies.escape(String(repeating: "Tom & Jerry <3 ", count: 700)) + "</b>\nend"
        let parts = Replies.split(bold)
        expectSendable(parts, original: bold)
        #expect(parts.allSatisfy { $0.hasPrefix("<b>") || $0 == "end" })
    }

    @Test("parts break at line ends where they can")
    func lineBreaks() {
        let long = (1...500).map { "line \($0) with <i>some</i> words &amp; more" }.joined(separator: "\n")
        let parts = Replies.split(long)
        expectSendable(parts, original: long)
        #expect(parts.allSatisfy { $0.hasSuffix("more") })
    }

    @Test("plain text drops tags and decodes entities")
    func plain() {
        #expect(Replies.plainText("<b>Tom &amp; Jerry</b> &lt;3 &#128512;") == "Tom & Jerry <3 😀")
        #expect(Replies.truncated(String(repeating: "😀", count: 600), limit: 1024).utf16.count <= 1024)
    }

    @Test("types that hold a secret never print it, whatever prints them")
    func redaction() {
        let token = "987654:SECRET-token-value", secret = "webhook_SECRET_value", awsSecret = "aws/SECRET/value", awsKey = "AKIAEXAMPLEKEY123"
        let settings = GatewaySettings(token: token, webhookSecret: secret, adminIDs: [1], dataDirectory: URL(fileURLWithPath: "/tmp"))
        let client = TelegramClient(token: token, http: HTTPClient())
        let credentials = AWSCredentials(accessKeyID: awsKey, secretAccessKey: awsSecret, sessionToken: "session-SECRET")
        let s3 = S3Configuration(bucket: "b", credentials: credentials)
        let endpoint = LLMEndpoint(baseURL: "https://api.anthropic.com", apiKey: APIKey("sk-ant-SECRET"), model: "m", timeout: .seconds(1))
        let request = HTTPClientRequest(url: "https://api.telegram.org/bot\(token)/getMe", headers: [("x-api-key", "sk-ant-SECRET")])
        struct Holder { var settings: GatewaySettings; var client: TelegramClient; var s3: S3Configuration; var endpoint: LLMEndpoint; var request: HTTPClientRequest }
        let holder = Holder(settings: settings, client: client, s3: s3, endpoint: endpoint, request: request)
        var dumped = ""
        dump(holder, to: &dumped)
        for printed in [String(describing: holder), String(reflecting: holder), "\(holder)", dumped] {
            for secretValue in [token, "SECRET", awsKey] {
                #expect(!printed.contains(secretValue), "\(printed)")
            }
        }
        #expect(String(describing: credentials).contains("AKIA…"))
    }

    @Test("an absolute file_path is followed only from a local Bot API server, only to a regular file, within the cap")
    func localPaths() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("local-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = folder.appendingPathComponent("photo.jpg")
        try Data(repeating: 7, count: 5_000).write(to: source)
        let destination = folder.appendingPathComponent("download").path
        let http = HTTPClient()
        defer { http.shutdown() }
        let telegram = TelegramClient(token: "1:a", baseURL: "https://api.telegram.org", http: http)
        let local = TelegramClient(token: "1:a", baseURL: "http://127.0.0.1:8081", http: http)
        let file = TelegramFile(fileID: "f", fileSize: nil, filePath: source.path)

        await #expect(throws: TelegramError.self) { try await telegram.download(file, to: destination, maxBytes: 1 << 20) }
        #expect(!FileManager.default.fileExists(atPath: destination))
        try await local.download(file, to: destination, maxBytes: 1 << 20)
        #expect(try Data(contentsOf: URL(fileURLWithPath: destination)).count == 5_000)
        await #expect(throws: TelegramError.self) { try await local.download(file, to: destination, maxBytes: 1_000) }
        for special in ["/dev/zero", folder.path] {
            await #expect(throws: TelegramError.self) {
                try await local.download(TelegramFile(fileID: "f", fileSize: nil, filePath: special), to: destination, maxBytes: 1 << 20)
            }
        }
    }
}
