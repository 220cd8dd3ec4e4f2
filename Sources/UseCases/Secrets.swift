import Crypto
import Foundation
import Storage

/// The one way secrets are made, stored and compared: API tokens, sign-in links, the dashboard's sessions and
/// the webhook's secret all go through here.
public enum Secrets {
    /// 256 random bits, base64url without padding (fits a URL, a header and a cookie as it is).
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64URL
    }

    /// Hex SHA-256: the secrets are 256 random bits, so a fast hash is enough to store them (nothing to brute-force).
    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).hexString
    }

    /// True when `presented` is `expected`, in time that depends on `expected`'s length only.
    public static func equal(_ presented: String, _ expected: String) -> Bool {
        let a = Array(presented.utf8), b = Array(expected.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<b.count {
            difference |= b[index] ^ (index < a.count ? a[index] : 0)
        }
        return difference == 0
    }
}

extension Data {
    /// Base64 with the URL-safe alphabet and no padding.
    public var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
