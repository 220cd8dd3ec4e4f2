import Foundation

/// Telegram-HTML as the splitter sees it: tags, entities and text, each kept whole.
enum HTMLToken: Equatable {
    /// `<b>`, `</b>`, `<a href="…">`: never cut.
    case tag(String)
    /// `&amp;`, `&#128512;`: never cut.
    case entity(String)
    /// A character, or one Unicode scalar of a character so long (hundreds of combining marks) that it could
    /// not fit a message on its own.
    case text(String)

    var source: String {
        switch self {
        case .tag(let text), .entity(let text), .text(let text): text
        }
    }

    /// A character longer than this many UTF-16 units is cut between its scalars.
    static let longCharacter = 64

    static func tokens(of html: String) -> [HTMLToken] {
        var tokens: [HTMLToken] = []
        var index = html.startIndex
        while index < html.endIndex {
            let character = html[index]
            if character == "<", let end = html[index...].firstIndex(of: ">") {
                tokens.append(.tag(String(html[index...end])))
                index = html.index(after: end)
                continue
            }
            if character == "&", let end = html[index...].prefix(12).firstIndex(of: ";") {
                tokens.append(.entity(String(html[index...end])))
                index = html.index(after: end)
                continue
            }
            if character.utf16.count > longCharacter {
                tokens += String(character).unicodeScalars.map { .text(String($0)) }
            } else {
                tokens.append(.text(String(character)))
            }
            index = html.index(after: index)
        }
        return tokens
    }

    /// The tag's name and whether it closes one (`</b>` → ("b", true)); nil for text and entities.
    var tagName: (name: String, closing: Bool)? {
        guard case .tag(let text) = self else { return nil }
        var inner = text.dropFirst().dropLast()
        let closing = inner.hasPrefix("/")
        if closing { inner = inner.dropFirst() }
        let name = inner.prefix { $0.isLetter || $0.isNumber || $0 == "-" }.lowercased()
        return name.isEmpty ? nil : (name, closing)
    }

    static func decode(_ entity: String) -> String {
        switch entity {
        case "&lt;": return "<"
        case "&gt;": return ">"
        case "&amp;": return "&"
        case "&quot;": return "\""
        default:
            let body = entity.dropFirst(2).dropLast()
            let value = entity.hasPrefix("&#x") || entity.hasPrefix("&#X") ? UInt32(body.dropFirst(), radix: 16)
                : entity.hasPrefix("&#") ? UInt32(body) : nil
            return value.flatMap(Unicode.Scalar.init).map { String(Character($0)) } ?? entity
        }
    }
}

/// Packs tokens into parts of at most `limit` UTF-16 units, preferring to cut after a newline, closing the
/// tags open at a cut and opening them again in the next part.
struct HTMLSplitter {
    let limit: Int
    private var parts: [String] = []
    private var current = ""
    private var currentUnits = 0
    /// Opening tags in force at the end of `current`, outermost first.
    private var open: [(name: String, tag: String)] = []
    /// The last newline in `current`: where it ends, and the tags open there.
    private var lastBreak: (index: String.Index, units: Int, open: [(name: String, tag: String)])?
    /// The UTF-16 length of what `current` starts with (tags reopened): a part that is only that is empty.
    private var reopenedUnits = 0

    init(limit: Int) {
        self.limit = limit
    }

    mutating func append(_ token: HTMLToken) {
        let units = token.source.utf16.count
        while currentUnits + units + Self.closers(of: opened(after: token)).utf16.count > limit, currentUnits > reopenedUnits {
            cut()
        }
        current += token.source
        currentUnits += units
        if let (name, closing) = token.tagName {
            if closing {
                if let position = open.lastIndex(where: { $0.name == name }) { open.removeSubrange(position...) }
            } else {
                open.append((name, token.source))
            }
        }
        if token == .text("\n") { lastBreak = (current.endIndex, currentUnits, open) }
    }

    mutating func finish() -> [String] {
        emit(current + Self.closers(of: open))
        current = ""
        return parts
    }

    private func opened(after token: HTMLToken) -> [(name: String, tag: String)] {
        guard let (name, closing) = token.tagName else { return open }
        if closing { return open.filter { $0.name != name } }
        return open + [(name, token.source)]
    }

    /// Ends the current part at its last newline when that leaves something in it, else right here.
    private mutating func cut() {
        if let mark = lastBreak, mark.units > reopenedUnits + 1 {
            var head = String(current[..<mark.index])
            if head.hasSuffix("\n") { head.removeLast() }
            let tail = String(current[mark.index...])
            emit(head + Self.closers(of: mark.open))
            let reopened = mark.open.map(\.tag).joined()
            current = reopened + tail
            reopenedUnits = reopened.utf16.count
        } else {
            emit(current + Self.closers(of: open))
            current = open.map(\.tag).joined()
            reopenedUnits = current.utf16.count
        }
        currentUnits = current.utf16.count
        lastBreak = nil
    }

    private mutating func emit(_ part: String) {
        var part = part
        while part.hasSuffix("\n") { part.removeLast() }
        // A part with no visible text would be refused by Telegram ("message text is empty").
        if !Replies.plainText(part).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { parts.append(part) }
    }

    private static func closers(of open: [(name: String, tag: String)]) -> String {
        open.reversed().map { "</\($0.name)>" }.joined()
    }
}
