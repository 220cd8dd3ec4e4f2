import Foundation
import Storage
#if canImport(Glibc)
import Glibc
#endif

/// A callback URL checked against server-side request forgery: http(s) only, and its host resolved once to an
/// address that is not loopback, link-local, private or otherwise internal (unless the operator allows private
/// ones). The delivery connects to that very address (`resolveEntry`), so a second DNS answer cannot switch it.
struct CallbackAddress: Sendable, Equatable {
    var url: String
    var host: String
    var port: Int
    var address: String

    enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed(String)
        case unresolvable(String)
        case internalAddress(host: String, address: String)

        var description: String {
            switch self {
            case .malformed(let why): "the callback URL is not usable: \(why)"
            case .unresolvable(let host): "the callback host \(host) cannot be resolved"
            case .internalAddress(let host, let address):
                "the callback host \(host) resolves to \(address), an internal address; callbacks go to public addresses only "
                    + "(an operator may allow private ones with API_CALLBACK_ALLOW_PRIVATE=true)"
            }
        }
    }

    /// "host:port:address", as libcurl's `CURLOPT_RESOLVE` takes it.
    var resolveEntry: String {
        "\(host):\(port):\(address.contains(":") ? "[\(address)]" : address)"
    }

    /// Checks the URL's form only (no DNS): what an upload can refuse at once.
    static func parse(_ url: String) throws(Refusal) -> (host: String, port: Int) {
        guard url.count <= 2048 else { throw .malformed("longer than 2048 characters") }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else { throw .malformed("not a URL") }
        guard scheme == "http" || scheme == "https" else { throw .malformed("only http and https callbacks are sent") }
        guard let host = components.host, !host.isEmpty else { throw .malformed("it names no host") }
        guard components.user == nil, components.password == nil else { throw .malformed("credentials in the URL are not sent; sign with the token's secret instead") }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65_535).contains(port) else { throw .malformed("port \(port) is out of range") }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return (bare, port)
    }

    /// Resolves the host (off the concurrency threads) and picks its first address, refusing internal ones
    /// unless `allowPrivate`. Every address the name has is checked: a name with one public and one private
    /// address is refused, since which one a connection takes is not ours to know.
    static func check(_ url: String, allowPrivate: Bool) async throws -> CallbackAddress {
        let (host, port) = try parse(url)
        let addresses = try await BlockingWork.run { resolve(host) }
        guard let first = addresses.first else { throw Refusal.unresolvable(host) }
        if !allowPrivate, let bad = addresses.first(where: isInternal) { throw Refusal.internalAddress(host: host, address: bad) }
        return CallbackAddress(url: url, host: host, port: port, address: first)
    }

    /// Every address of `host` (an IP literal is its own), as text.
    static func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var addresses: [String] = []
        var next = list
        while let entry = next {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !addresses.contains(text) { addresses.append(text) }
            }
            next = entry.pointee.ai_next
        }
        return addresses
    }

    /// Loopback, private (RFC 1918, unique-local), link-local, carrier-grade NAT, unspecified, multicast,
    /// reserved and documentation ranges, and IPv6 forms that embed such an IPv4 address.
    static func isInternal(_ address: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            return isInternalIPv4(UInt32(bigEndian: v4.s_addr))
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address.split(separator: "%").first.map(String.init) ?? address, &v6) == 1 else { return true }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64): judged by the IPv4 inside.
        let v4Inside = UInt32(bytes[12]) << 24 | UInt32(bytes[13]) << 16 | UInt32(bytes[14]) << 8 | UInt32(bytes[15])
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && ((bytes[10] == 0xff && bytes[11] == 0xff) || (bytes[10] == 0 && bytes[11] == 0)) {
            return bytes[0..<15].allSatisfy { $0 == 0 } || isInternalIPv4(v4Inside)
        }
        if bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xff && bytes[3] == 0x9b { return isInternalIPv4(v4Inside) }
        if bytes[0] & 0xfe == 0xfc { return true }                      // fc00::/7 unique local
        if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 { return true }  // fe80::/10 link-local
        if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0xc0 { return true }  // fec0::/10 site-local (deprecated)
        if bytes[0] == 0xff { return true }                             // multicast
        if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0d && bytes[3] == 0xb8 { return true }  // 2001:db8::/32 documentation
        return false
    }

    static func isInternalIPv4(_ ip: UInt32) -> Bool {
        func within(_ network: UInt32, _ bits: UInt32) -> Bool { ip >> (32 - bits) == network >> (32 - bits) }
        return within(0x0000_0000, 8)       // 0.0.0.0/8 "this network"
            || within(0x0A00_0000, 8)       // 10/8
            || within(0x6440_0000, 10)      // 100.64/10 carrier-grade NAT
            || within(0x7F00_0000, 8)       // 127/8 loopback
            || within(0xA9FE_0000, 16)      // 169.254/16 link-local (cloud metadata)
            || within(0xAC10_0000, 12)      // 172.16/12
            || within(0xC000_0000, 24)      // 192.0.0/24 protocol assignments
            || within(0xC000_0200, 24)      // 192.0.2/24 documentation
            || within(0xC0A8_0000, 16)      // 192.168/16
            || within(0xC612_0000, 15)      // 198.18/15 benchmarking
            || within(0xC633_6400, 24)      // 198.51.100/24 documentation
            || within(0xCB00_7100, 24)      // 203.0.113/24 documentation
            || ip >= 0xE000_0000            // multicast, reserved, broadcast
    }
}
