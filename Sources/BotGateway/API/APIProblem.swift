import Foundation
import Hummingbird
import Storage

/// A refusal as an RFC 9457 problem (`application/problem+json`): what went wrong and what to do about it.
/// Thrown by the API's handlers; Hummingbird renders it.
struct APIProblem: HTTPResponseError, Equatable {
    /// The problem's kind: the last part of its `type` URI, stable for clients to branch on.
    var slug: String
    var status: HTTPResponse.Status
    var title: String
    var detail: String
    /// Seconds until trying again makes sense (429, 503): also sent as `Retry-After`.
    var retryAfter: Int?
    var extraHeaders: HTTPFields = [:]

    static let typeBase = "urn:botgateway:problem:"

    private struct Body: Encodable {
        var type: String
        var title: String
        var status: Int
        var detail: String
        var retry_after: Int?
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = extraHeaders
        headers[.contentType] = "application/problem+json"
        if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
        let body = Body(type: Self.typeBase + slug, title: title, status: Int(status.code), detail: detail, retry_after: retryAfter)
        let data = try JSONEncoder.api.encode(body)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension APIProblem {
    static func unauthorized(_ detail: String) -> APIProblem {
        APIProblem(slug: "unauthorized", status: .unauthorized, title: "Missing or unknown API token", detail: detail,
                   extraHeaders: [.wwwAuthenticate: "Bearer realm=\"botgateway\""])
    }

    static func forbidden(scope: APIScope) -> APIProblem {
        APIProblem(slug: "insufficient-scope", status: .forbidden, title: "The token lacks a scope",
                   detail: "this needs a token with the \(scope.rawValue) scope; an admin makes one with `botgateway tokens create NAME --scope \(scope.rawValue)`")
    }

    static func notFound(_ what: String) -> APIProblem {
        APIProblem(slug: "not-found", status: .notFound, title: "Not found", detail: "no \(what) that this token may see")
    }

    static func invalid(_ detail: String, slug: String = "invalid-request") -> APIProblem {
        APIProblem(slug: slug, status: .unprocessableContent, title: "The request cannot be taken as it is", detail: detail)
    }

    static func badRequest(_ detail: String) -> APIProblem {
        APIProblem(slug: "bad-request", status: .badRequest, title: "Malformed request", detail: detail)
    }

    static func unavailable(_ detail: String, retryAfter: Int = 30) -> APIProblem {
        APIProblem(slug: "unavailable", status: .serviceUnavailable, title: "Try again later", detail: detail, retryAfter: retryAfter)
    }
}

extension JSONEncoder {
    /// The API's JSON: keys sorted (stable bodies, so a callback's signature is over the bytes a client sees).
    static var api: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
