@testable import BotGateway
import Foundation
import Logging
import Testing

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    @Test("a line is one JSON object whose fields read back exactly, whatever the message holds")
    func roundTrip() throws {
        let message = "quote \" backslash \\ slash / newline \n tab \t return \r bell \u{07} delete \u{7F} ü 日本 🧾"
        let line = JSONLogHandler.line(time: timespec(tv_sec: 1_772_355_907, tv_nsec: 42_000_000), level: .warning, label: "botgateway.api",
                                       message: message, metadata: ["job": "K7Q-2F9", "path": "/tmp/a\"b", "bytes": .stringConvertible(204_800)])
        #expect(!line.contains(0x0A), "a line never breaks")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: String])
        #expect(object == ["ts": "2026-03-01T09:05:07.042Z", "level": "warning", "logger": "botgateway.api", "msg": message,
                           "job": "K7Q-2F9", "path": "/tmp/a\"b", "bytes": "204800"])
    }

    @Test("its own fields come first and win over metadata of the same name; the rest follow in key order")
    func fieldOrder() throws {
        let line = JSONLogHandler.line(time: timespec(tv_sec: 946_684_799, tv_nsec: 999_999_999), level: .info, label: "l", message: "m",
                                       metadata: ["zeta": "1", "level": "spoofed", "alpha": "2", "msg": "spoofed"])
        #expect(String(decoding: line, as: UTF8.self)
                == #"{"ts":"1999-12-31T23:59:59.999Z","level":"info","logger":"l","msg":"m","alpha":"2","zeta":"1"}"#)
    }

    @Test("metadata set on the logger and on the event are both kept, the event's winning")
    func mergedMetadata() throws {
        var handler = JSONLogHandler(label: "x")
        handler[metadataKey: "node"] = "a"
        handler[metadataKey: "job"] = "old"
        let event = LogEvent(level: .error, message: "m", metadata: ["job": "new"], source: nil, file: #fileID, function: #function, line: #line)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(handler.line(for: event, at: JSONLogHandler.now()))) as? [String: String])
        #expect(object["node"] == "a" && object["job"] == "new")
        let rfc3339 = ISO8601DateFormatter()
        rfc3339.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        #expect(rfc3339.date(from: object["ts"] ?? "") != nil)
    }
}
