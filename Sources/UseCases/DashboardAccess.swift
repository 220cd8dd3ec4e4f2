import Crypto
import Foundation
import Storage

/// Who may open the dashboard, and how: an admin asks for a single-use link (the bot's `/dashboard`, or
/// `botgateway dashboard-link`), valid for ten minutes; using it starts a session kept in a signed cookie with an
/// expiry. Every request checks that the session's user is still an admin, so a demoted admin is out at once.
/// State-changing requests carry a CSRF token bound to the session.
public struct DashboardAccess: DashboardLinks {
    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case notAdmin
        case linkUsed
        case linkExpired
        case linkUnknown

        public var description: String {
            switch self {
            case .notAdmin: "The dashboard is for admins only."
            case .linkUsed: "This sign-in link was used already. Send /dashboard to the bot for a new one."
            case .linkExpired: "This sign-in link has expired (links last 10 minutes). Send /dashboard to the bot for a new one."
            case .linkUnknown: "This sign-in link is not valid. Send /dashboard to the bot for a new one."
            }
        }
    }

    /// A signed-in admin.
    public struct Session: Sendable, Equatable {
        public var userID: Int64
        public var expiresAt: Timestamp
        /// Random per sign-in; the CSRF token is derived from it.
        public var nonce: String
    }

    let store: any DashboardStore
    let whitelist: any WhitelistService
    let keyBytes: Data
    /// Where people reach this server (`BOT_PUBLIC_URL`), for the links.
    public let baseURL: String
    public let linkLifetime: Double
    public let sessionLifetime: Double

    public init(store: any DashboardStore, whitelist: any WhitelistService, key: Data, baseURL: String, linkLifetime: Double = 600,
                sessionLifetime: Double = 12 * 3600) {
        self.store = store
        self.whitelist = whitelist
        keyBytes = key
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.linkLifetime = linkLifetime
        self.sessionLifetime = sessionLifetime
    }

    public static let cookieName = "botgateway_session"

    /// Cookies marked `Secure` when people reach the server over TLS.
    public var secureCookies: Bool { baseURL.lowercased().hasPrefix("https://") }

    // MARK: Links

    /// A new single-use sign-in link for an admin; only the token's hash is stored.
    public func signInLink(for userID: Int64, now: Timestamp) async throws -> String {
        guard try await whitelist.role(of: userID) == .admin else { throw Refusal.notAdmin }
        let token = Secrets.random()
        try await store.createSignInLink(hash: Secrets.hash(token), userID: userID, expiresAt: now + linkLifetime, now: now)
        return "\(baseURL)/admin/signin?t=\(token)"
    }

    /// Uses a link's token: a session for its admin, or why not.
    public func signIn(token: String, now: Timestamp = .now) async throws -> (session: Session, cookie: String) {
        guard token.count <= 100 else { throw Refusal.linkUnknown }
        switch try await store.useSignInLink(hash: Secrets.hash(token), now: now) {
        case .unknown: throw Refusal.linkUnknown
        case .used: throw Refusal.linkUsed
        case .expired: throw Refusal.linkExpired
        case .valid(let userID):
            guard try await whitelist.role(of: userID) == .admin else { throw Refusal.notAdmin }
            let session = Session(userID: userID, expiresAt: (now + sessionLifetime).rounded(.down), nonce: Secrets.random())
            return (session, cookieValue(session))
        }
    }

    // MARK: Sessions

    /// `v1.USER.EXPIRES.NONCE.SIGNATURE`, signed with the gateway's dashboard key.
    func cookieValue(_ session: Session) -> String {
        let body = "v1.\(session.userID).\(Int64(session.expiresAt)).\(session.nonce)"
        return body + "." + sign(body)
    }

    /// The session a cookie carries when it is ours, unexpired, and its user still an admin.
    public func session(cookie: String?, now: Timestamp = .now) async throws -> Session? {
        guard let cookie, cookie.count < 300 else { return nil }
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[0] == "v1", let user = Int64(parts[1]), let expires = Int64(parts[2]) else { return nil }
        let body = parts[0...3].joined(separator: ".")
        guard Secrets.equal(parts[4], sign(body)), Double(expires) > now else { return nil }
        guard try await whitelist.role(of: user) == .admin else { return nil }
        return Session(userID: user, expiresAt: Double(expires), nonce: parts[3])
    }

    /// The token every state-changing form of this session carries.
    public func csrfToken(for session: Session) -> String {
        sign("csrf.\(session.nonce)")
    }

    public func checkCSRF(_ presented: String?, for session: Session) -> Bool {
        guard let presented else { return false }
        return Secrets.equal(presented, csrfToken(for: session))
    }

    private func sign(_ text: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: keyBytes))).base64URL
    }
}

/// What `/dashboard` and `botgateway dashboard-link` call.
public protocol DashboardLinks: Sendable {
    /// A single-use sign-in link for an admin (`DashboardAccess.Refusal.notAdmin` for anyone else).
    func signInLink(for userID: Int64, now: Timestamp) async throws -> String
}

extension DashboardLinks {
    public func signInLink(for userID: Int64) async throws -> String {
        try await signInLink(for: userID, now: .now)
    }
}
