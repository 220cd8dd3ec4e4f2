/// A value that holds a secret (a bot token, an API key, an S3 secret) and must never print it: not through
/// `print`, string interpolation, `String(describing:)` of a struct that contains it (what
/// swift-service-lifecycle logs at debug level for every service), nor `dump` and other reflection.
/// Conformers say what may be shown; everything else prints as that.
public protocol Redacted: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// What may be shown of the value, e.g. `TelegramClient(api.telegram.org, token redacted)`.
    var redactedDescription: String { get }
}

extension Redacted {
    public var description: String { redactedDescription }
    public var debugDescription: String { redactedDescription }
    public var customMirror: Mirror { Mirror(self, children: ["redacted": redactedDescription]) }
}

extension String {
    /// The first `count` characters and an ellipsis: enough to tell two keys apart, not enough to use one.
    public func revealingPrefix(_ count: Int = 4) -> String {
        self.count <= count * 2 ? "…" : String(prefix(count)) + "…"
    }
}
