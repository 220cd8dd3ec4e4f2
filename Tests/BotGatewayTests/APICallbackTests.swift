@testable import BotGateway
import Crypto
import Foundation
import Hummingbird
import Plugins
import Storage
import Synchronization
import Testing
import TestSupport
import UseCases

/// Completion callbacks end to end: a real receiver on loopback, down for a while, then up.
@Suite("HTTP API callbacks", .serialized)
struct APICallbackTests {
    /// A callback receiver: answers 503 (with `Retry-After: 1`) to its first `failures` requests, then 200;
    /// keeps every request it saw.
    final class Receiver: Sendable {
        struct Seen: Sendable {
            var eventID: String
            var event: String
            var signature: String
            var body: Data
            var status: Int
        }

        private let seen = Mutex<[Seen]>([])
        private let failures: Int

        init(failures: Int) {
            self.failures = failures
        }

        var requests: [Seen] { seen.withLock { $0 } }

        func start() async throws -> LoopbackServer {
            let router = Router()
            router.post("hook") { [self] request, _ -> Response in
                let body = Data(buffer: try await request.body.collect(upTo: 1 << 20))
                let status = seen.withLock { seen -> Int in
                    let status = seen.count < failures ? 503 : 200
                    seen.append(Seen(eventID: request.headers[.init("BotGateway-Event-Id")!] ?? "", event: request.headers[.init("BotGateway-Event")!] ?? "",
                                     signature: request.headers[.init("BotGateway-Signature")!] ?? "", body: body, status: status))
                    return status
                }
                return Response(status: .init(code: status), headers: status == 503 ? [.retryAfter: "1"] : [:])
            }
            return try await LoopbackServer.start(router)
        }
    }

    static let fast = RetryPolicy(maxAttempts: .max, baseDelay: 0.2, maxDelay: 1, maxRetryAfter: 2)

    @Test("a receiver down for a while gets each event later, exactly once, signed with the token's secret")
    func deliveredOnceAfterOutage() async throws {
        let receiver = Receiver(failures: 3)
        let server = try await receiver.start()
        let hook = "\(server.baseURL)/hook"
        let signer = CallbackSigner(key: Data("test-gateway-key".utf8))
        let gateway = try await GatewayHarness.start(api: APISettings(callbackAllowPrivate: true, callbackRetry: Self.fast), callbackSigner: signer)
        do {
            let issued = try await APITokenService(store: gateway.database).create(name: "hooks", scopes: [.upload, .read])
            var codes: [String] = []
            for name in ["invoice.png", "letter.png"] {
                let reply = try await APIFlowTests.upload(gateway, try GatewayHarness.fixture(name), name: name, token: issued.secret,
                                                          query: "group=batch7&callback_url=\(hook)")
                #expect(reply.status == 202)
                codes.append(try #require((reply.json["job"] as? [String: Any])?["code"] as? String))
            }
            // Two job events and one group event, each taken once after the receiver's three refusals.
            let delivered = try await poll(timeout: .seconds(90), every: .milliseconds(200)) {
                Set(receiver.requests.filter { $0.status == 200 }.map(\.eventID)).count == 3
            }
            #expect(delivered, "seen: \(receiver.requests.map { "\($0.event) \($0.status)" })")
            try await Task.sleep(for: .seconds(2))
            let taken = receiver.requests.filter { $0.status == 200 }
            #expect(taken.count == 3, "an event was delivered more than once")
            #expect(Set(taken.map(\.event)) == ["job.done", "group.done"])
            #expect(receiver.requests.filter { $0.status == 503 }.count == 3)
            // A retried event is the same event: the same id and the same bytes.
            for refused in receiver.requests.filter({ $0.status == 503 }) {
                let later = try #require(taken.first { $0.eventID == refused.eventID })
                #expect(later.body == refused.body)
            }
            // The signature verifies with the signing secret shown with the token, computed as a receiver would.
            let secret = signer.signingSecret(for: issued.record)
            for request in taken {
                let parts = Dictionary(uniqueKeysWithValues: request.signature.split(separator: ",").map {
                    let pair = $0.split(separator: "=", maxSplits: 1)
                    return (String(pair[0]), String(pair[1]))
                })
                let time = try #require(parts["t"])
                let expected = HMAC<SHA256>.authenticationCode(for: Data("\(time).".utf8) + request.body, using: SymmetricKey(data: Data(secret.utf8)))
                #expect(parts["v1"] == expected.map { String(format: "%02x", $0) }.joined())
                #expect(abs((Double(time) ?? 0) - Date().timeIntervalSince1970) < 120)
                let tampered = HMAC<SHA256>.authenticationCode(for: Data("\(time).".utf8) + request.body + Data(" ".utf8), using: SymmetricKey(data: Data(secret.utf8)))
                #expect(parts["v1"] != tampered.map { String(format: "%02x", $0) }.joined())
            }
            let jobEvent = try #require(taken.first { $0.event == "job.done" })
            let body = try #require(try JSONSerialization.jsonObject(with: jobEvent.body) as? [String: Any])
            #expect(body["id"] as? String == jobEvent.eventID && body["type"] as? String == "job.done")
            let job = try #require(body["job"] as? [String: Any])
            #expect(codes.contains(job["code"] as? String ?? "") && job["analysis"] is [String: Any])
            let groupEvent = try #require(taken.first { $0.event == "group.done" })
            let group = try #require((try JSONSerialization.jsonObject(with: groupEvent.body) as? [String: Any])?["group"] as? [String: Any])
            #expect((group["jobs"] as? [Any])?.count == 2 && (group["report"] as? String)?.hasSuffix("/report") == true)
            // The outbox says delivered, after four attempts at most.
            let job0 = try #require(try await gateway.database.jobDetails(code: codes[0]))
            let events = try await gateway.database.callbacks(jobID: try #require(job0.job.id))
            #expect(events.allSatisfy { $0.state == .delivered })
        } catch {
            await gateway.stop()
            await server.stop()
            throw error
        }
        await gateway.stop()
        await server.stop()
    }

    @Test("callback URLs on loopback, private or link-local addresses are refused unless allowed")
    func privateAddressesRefused() async throws {
        let gateway = try await GatewayHarness.start()
        do {
            let token = try await APITokenService(store: gateway.database).create(name: "ssrf", scopes: [.upload]).secret
            let png = try GatewayHarness.fixture("letter.png")
            for url in ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/x",
                        "http://[::1]/x", "http://[::ffff:192.168.1.1]/x", "http://user:pass@example.com/x", "file:///etc/passwd"] {
                let reply = try await APIFlowTests.upload(gateway, png, name: "a.png", token: token,
                                                          query: "callback_url=\(url.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? url)")
                #expect(reply.status == 422 && reply.problem == "callback-refused", "\(url) was not refused")
            }
            #expect(try await gateway.database.jobs(limit: 10).isEmpty)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test("internal address ranges, IPv4 and IPv6")
    func internalRanges() {
        for address in ["127.0.0.1", "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                        "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "::ffff:10.0.0.1", "64:ff9b::7f00:1",
                        "ff02::1", "2001:db8::1", "not-an-address"] {
            #expect(CallbackAddress.isInternal(address), "\(address) taken for public")
        }
        for address in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "192.169.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            #expect(!CallbackAddress.isInternal(address), "\(address) taken for internal")
        }
        let address = CallbackAddress(url: "https://hooks.example.com:8443/x", host: "hooks.example.com", port: 8443, address: "2606:4700::1")
        #expect(address.resolveEntry == "hooks.example.com:8443:[2606:4700::1]")
    }
}
