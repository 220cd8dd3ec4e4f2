import Crypto
import Foundation
import Storage

/// Signs completion callbacks. Each API token has its own signing secret, derived from the gateway's key and
/// the token's hash (so nothing more is stored), shown once with the token:
///
///     BotGateway-Signature: t=1732417200,v1=<hex HMAC-SHA256(signing secret, "1732417200." + body)>
///
/// The gateway's key is `API_CALLBACK_SECRET` (the same on every gateway of a cluster), else a random key
/// kept in `BOT_DATA_DIR/callback-signing.key` (mode 0600), made on first use.
public struct CallbackSigner: Sendable {
    let keyBytes: Data

    public init(key: Data) {
        keyBytes = key
    }

    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public static let keyFile = "callback-signing.key"

    /// The gateway's key from the environment, or the data folder's key file (made when missing).
    public static func load(secret: String?, dataDirectory: URL) throws -> CallbackSigner {
        if let secret { return CallbackSigner(key: Data(secret.utf8)) }
        let file = dataDirectory.appendingPathComponent(keyFile)
        if let existing = try? String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), existing.count >= 32 {
            return CallbackSigner(key: Data(existing.utf8))
        }
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        var random = SystemRandomNumberGenerator()
        let made = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }.hexString
        // Written whole under a name of its own, then linked to the real name, which fails if it exists: two
        // processes starting at once both keep the first one's key.
        let draft = file.path + ".\(UUID().uuidString)"
        defer { unlink(draft) }
        guard FileManager.default.createFile(atPath: draft, contents: Data(made.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw StorageError.blobUnavailable(path: draft, reason: "could not write the callback signing key")
        }
        if link(draft, file.path) != 0, errno != EEXIST {
            throw StorageError.blobUnavailable(path: file.path, reason: String(cString: strerror(errno)))
        }
        let kept = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return CallbackSigner(key: Data(kept.utf8))
    }

    /// A key for another purpose (the dashboard's sessions), derived from the gateway's key: the same on every
    /// gateway that shares `API_CALLBACK_SECRET`, and unrelated to any callback's signing secret.
    public func derivedKey(for purpose: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data("purpose:\(purpose)".utf8), using: key))
    }

    /// The signing secret receivers of `token`'s callbacks verify with.
    public func signingSecret(for token: APITokenRecord) -> String {
        "whsec_" + Data(HMAC<SHA256>.authenticationCode(for: Data("callback:\(token.tokenHash)".utf8), using: key)).hexString
    }

    /// The `BotGateway-Signature` header's value for `body` sent at `time`.
    public func signature(body: Data, time: Int, for token: APITokenRecord) -> String {
        "t=\(time),v1=" + Self.sign(body: body, time: time, secret: signingSecret(for: token))
    }

    /// What a receiver computes: hex HMAC-SHA256 keyed with the signing secret over "TIME." + body.
    public static func sign(body: Data, time: Int, secret: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data("\(time).".utf8) + body, using: SymmetricKey(data: Data(secret.utf8)))).hexString
    }
}
