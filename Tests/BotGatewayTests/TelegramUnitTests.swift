@testable import BotGateway
import Environment
import Foundation
import OCR
import Testing

@Suite("Telegram edge: decoding, secrets, reply text")
struct TelegramUnitTests {
    @Test("unknown update kinds and unknown fields decode without failing")
    func tolerantDecoding() throws {
        let unknownKind = Data(#"{"update_id":5,"my_chat_member":{"chat":{"id":1},"date":1}}"#.utf8)
        let update = try JSONDecoder().decode(TelegramUpdate.self, from: unknownKind)
        #expect(update.updateID == 5)
        #expect(update.message == nil)
        let extraFields = Data(#"{"update_id":6,"future_field":[1,2],"message":{"message_id":9,"chat":{"id":2,"type":"private","is_forum":false},"text":"hi","new_thing":{"a":1}}}"#.utf8)
        #expect(try JSONDecoder().decode(TelegramUpdate.self, from: extraFields).message?.text == "hi")
    }

    @Test("the largest photo size is the one read")
    func largestPhoto() throws {
        let json = #"{"message_id":1,"chat":{"id":1},"photo":[{"file_id":"s","file_unique_id":"a","width":90,"height":90},{"file_id":"l","file_unique_id":"b","width":1280,"height":960},{"file_id":"m","file_unique_id":"c","width":320,"height":240}]}"#
        let message = try JSONDecoder().decode(TelegramMessage.self, from: Data(json.utf8))
        #expect(message.attachment?.fileID == "l")
    }

    @Test("the secret check accepts only the exact secret")
    func secret() {
        #expect(WebhookSecret.matches("abc_DEF-1", expected: "abc_DEF-1"))
        #expect(!WebhookSecret.matches("abc_DEF-2", expected: "abc_DEF-1"))
        #expect(!WebhookSecret.matches("abc_DEF-1x", expected: "abc_DEF-1"))
        #expect(!WebhookSecret.matches("abc", expected: "abc_DEF-1"))
        #expect(!WebhookSecret.matches("", expected: "abc_DEF-1"))
        #expect(!WebhookSecret.matches(nil, expected: "abc_DEF-1"))
    }

    @Test("replies are HTML-escaped and split under Telegram's limit on line boundaries")
    func replies() {
        #expect(Replies.escape("<b>Tom & Jerry</b>") == "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;")
        let long = (1...500).map { "line \($0) with some words in it" }.joined(separator: "\n")
        let parts = Replies.split(long)
        #expect(parts.count > 1)
        #expect(parts.allSatisfy { $0.count <= Replies.messageLimit })
        #expect(parts.joined(separator: "\n") == long)
        #expect(Replies.split(String(repeating: "x", count: 9000)).map(\.count) == [4000, 4000, 1000])
    }

    @Test("configuration: token, secret, admins, port and the ask limit are validated with the variable named")
    func settings() throws {
        let data = URL(fileURLWithPath: "/tmp")
        let good = try GatewaySettings.fromEnvironment(["TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_SECRET": "s_1", "BOT_ADMIN_IDS": "1, 2"],
                                                       dataDirectory: data, requireSecret: true)
        #expect(good.adminIDs == [1, 2])
        #expect(good.downloadLimit == 20_000_000)
        #expect(good.askDailyLimit == 30)
        let base = ["TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_SECRET": "s_1"]
        #expect(try GatewaySettings.fromEnvironment(base.merging(["ASK_DAILY_LIMIT": "0"]) { $1 }, dataDirectory: data, requireSecret: true).askDailyLimit == 0)
        #expect(try GatewaySettings.fromEnvironment(base.merging(["ASK_DAILY_LIMIT": "5"]) { $1 }, dataDirectory: data, requireSecret: true).askDailyLimit == 5)
        for (environment, variable) in [
            ([:], "TELEGRAM_BOT_TOKEN"),
            (["TELEGRAM_BOT_TOKEN": "nocolon"], "TELEGRAM_BOT_TOKEN"),
            (["TELEGRAM_BOT_TOKEN": "1:abc"], "TELEGRAM_WEBHOOK_SECRET"),
            (["TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_SECRET": "has space"], "TELEGRAM_WEBHOOK_SECRET"),
            (["TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_SECRET": "s", "BOT_ADMIN_IDS": "me"], "BOT_ADMIN_IDS"),
            (["TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_SECRET": "s", "BOT_PORT": "99999"], "BOT_PORT"),
            (["TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_SECRET": "s", "ASK_DAILY_LIMIT": "many"], "ASK_DAILY_LIMIT"),
            (["TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_SECRET": "s", "ASK_DAILY_LIMIT": "-1"], "ASK_DAILY_LIMIT"),
        ] as [([String: String], String)] {
            do {
                _ = try GatewaySettings.fromEnvironment(environment, dataDirectory: data, requireSecret: true)
                Issue.record("accepted \(environment)")
            } catch let error as ConfigurationError {
                #expect(error.variable == variable, "\(error)")
                #expect(!error.description.contains("1:abc"))
            }
        }
    }
}
