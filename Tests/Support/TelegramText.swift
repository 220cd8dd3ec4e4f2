import Foundation

/// What Telegram checks of a message's text before sending it (Bot API "Formatting options" and
/// sendMessage): HTML parse mode accepts only its tags, balanced, and `&` only as `&lt;` `&gt;` `&amp;`
/// `&quot;` or a numeric entity; the text left after parsing must be 1–4096 UTF-16 code units (captions 0–1024).
/// The double answers what Telegram answers when these fail.
public enum TelegramText {
    static let tags: Set<String> = ["b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
                                    "blockquote", "tg-emoji"]

    /// Telegram's error description, or nil when the text would be sent.
    public static func refusal(_ text: String, html: Bool, isCaption: Bool) -> String? {
        let visible: String
        if html {
            switch parse(text) {
            case .success(let parsed): visible = parsed
            case .failure(let problem): return "Bad Request: can't parse entities: \(problem.reason)"
            }
        } else {
            visible = text
        }
        if isCaption {
            return visible.utf16.count > 1024 ? "Bad Request: message caption is too long" : nil
        }
        if visible.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "Bad Request: message text is empty" }
        return visible.utf16.count > 4096 ? "Bad Request: message is too long" : nil
    }

    public struct Problem: Error {
        public var reason: String
    }

    /// The visible text of Telegram HTML, or why it does not parse.
    public static func parse(_ html: String) -> Result<String, Problem> {
        var visible = ""
        var open: [String] = []
        var index = html.startIndex
        while index < html.endIndex {
            let character = html[index]
            let offset = html.utf8.distance(from: html.startIndex, to: index)
            switch character {
            case "<":
                guard let end = html[index...].firstIndex(of: ">") else {
                    return .failure(Problem(reason: "Unclosed start tag at byte offset \(offset)"))
                }
                var inner = html[html.index(after: index)..<end]
                let closing = inner.hasPrefix("/")
                if closing { inner = inner.dropFirst() }
                let name = String(inner.prefix { $0.isLetter || $0.isNumber || $0 == "-" }).lowercased()
                guard tags.contains(name) else {
                    return .failure(Problem(reason: "Unsupported start tag \"\(name)\" at byte offset \(offset)"))
                }
                if closing {
                    guard open.last == name else {
                        return .failure(Problem(reason: "Unmatched end tag at byte offset \(offset), expected \"</\(open.last ?? "")>\", found \"</\(name)>\""))
                    }
                    open.removeLast()
                } else {
                    open.append(name)
                }
                index = html.index(after: end)
            case "&":
                let rest = html[index...].prefix(12)
                guard let end = rest.firstIndex(of: ";"), let decoded = entity(String(html[index...end])) else {
                    return .failure(Problem(reason: "Character entity expected at byte offset \(offset)"))
                }
                visible += decoded
                index = html.index(after: end)
            default:
                visible.append(character)
                index = html.index(after: index)
            }
        }
        guard open.isEmpty else { return .failure(Problem(reason: "Can't find end tag corresponding to start tag \"\(open.last ?? "")\"")) }
        return .success(visible)
    }

    private static func entity(_ text: String) -> String? {
        switch text {
        case "&lt;": return "<"
        case "&gt;": return ">"
        case "&amp;": return "&"
        case "&quot;": return "\""
        default:
            guard text.hasPrefix("&#") else { return nil }
            let body = text.dropFirst(2).dropLast()
            let value = body.hasPrefix("x") ? UInt32(body.dropFirst(), radix: 16) : UInt32(body)
            return value.flatMap(Unicode.Scalar.init).map { String(Character($0)) }
        }
    }
}
