import Crypto
import CurlHTTP
import Foundation

/// S3 credentials. The secret never appears in descriptions, logs or errors.
public struct AWSCredentials: Sendable, Redacted {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// The key id's first 4 characters (enough to tell keys apart); the secret and session token never.
    public var redactedDescription: String { "AWSCredentials(\(accessKeyID.revealingPrefix()), secret redacted)" }
}

/// AWS Signature Version 4 (header form), checked against AWS's published test-suite vectors.
public struct SigV4Signer: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The headers to add to a request: `x-amz-date`, `x-amz-content-sha256` (S3), the session token
    /// if any, and `Authorization`. `headers` are the request's other headers to sign (names any case).
    public func sign(method: String, url: URL, headers: [(name: String, value: String)], payloadHash: String,
                     date: Date = Date()) -> [(name: String, value: String)] {
        let amzDate = Self.timestamp(date)
        var added: [(name: String, value: String)] = [("x-amz-date", amzDate)]
        if service == "s3" { added.append(("x-amz-content-sha256", payloadHash)) }
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        var signed = headers + added
        if !signed.contains(where: { $0.name.lowercased() == "host" }) {
            signed.append(("host", Self.hostHeader(url)))
        }
        let (canonical, signedNames) = Self.canonicalRequest(method: method, url: url, headers: signed, payloadHash: payloadHash)
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Self.hex(SHA256.hash(data: Data(canonical.utf8))))"
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: day)))
        added.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedNames), Signature=\(signature)"))
        return added
    }

    func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// The canonical request and the signed header list. The path is used as sent (already encoded
    /// once, as S3 requires); query parameters are encoded strictly and sorted.
    static func canonicalRequest(method: String, url: URL, headers: [(name: String, value: String)], payloadHash: String) -> (String, String) {
        let components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        let path = components?.percentEncodedPath.isEmpty == false ? components!.percentEncodedPath : "/"
        var pairs: [(String, String)] = []
        for item in components?.percentEncodedQueryItems ?? [] {
            let name: String = item.name.removingPercentEncoding ?? item.name
            let raw: String = item.value ?? ""
            let value: String = raw.removingPercentEncoding ?? raw
            pairs.append((encode(name), encode(value)))
        }
        pairs.sort { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        let query = pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        var merged: [String: [String]] = [:]
        for header in headers {
            let value = header.value.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            merged[header.name.lowercased(), default: []].append(value)
        }
        let names = merged.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        let signedNames = names.joined(separator: ";")
        return ("\(method.uppercased())\n\(path)\n\(query)\n\(canonicalHeaders)\n\(signedNames)\n\(payloadHash)", signedNames)
    }

    /// RFC 3986 encoding of everything but unreserved characters, as SigV4 wants.
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
        if keepSlash { allowed.insert("/") }
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    static func hostHeader(_ url: URL) -> String {
        guard let host = url.host else { return "" }
        if let port = url.port, !((url.scheme == "https" && port == 443) || (url.scheme == "http" && port == 80)) { return "\(host):\(port)" }
        return host
    }

    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func hex<M: MessageAuthenticationCode>(_ code: M) -> String { hex(Array(code)) }
    static func hex(_ digest: SHA256.Digest) -> String { hex(Array(digest)) }
}
