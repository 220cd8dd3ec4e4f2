import Foundation
@testable import S3
import Testing

/// AWS's published Signature Version 4 vectors. Sources: the AWS SigV4 test suite
/// (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html: get-vanilla and
/// get-vanilla-query-order-key-case, credentials AKIDEXAMPLE) and the S3 API reference's
/// "Example: GET Object" (sig-v4-header-based-auth, examplebucket/test.txt, 2013-05-24).
@Suite("SigV4 against AWS's vectors")
struct SigV4Tests {
    static let suiteCredentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z

    func authorization(_ headers: [(name: String, value: String)]) -> String {
        headers.first { $0.name == "Authorization" }?.value ?? ""
    }

    @Test("get-vanilla")
    func getVanilla() {
        let signer = SigV4Signer(credentials: Self.suiteCredentials, region: "us-east-1", service: "service")
        let headers = signer.sign(method: "GET", url: URL(string: "https://example.amazonaws.com/")!, headers: [("Host", "example.amazonaws.com")],
                                  payloadHash: SigV4Signer.emptyPayloadHash, date: Self.suiteDate)
        #expect(authorization(headers) == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(headers.contains { $0.name == "x-amz-date" && $0.value == "20150830T123600Z" })
    }

    @Test("get-vanilla-query-order-key-case: query parameters are sorted")
    func queryOrder() {
        let signer = SigV4Signer(credentials: Self.suiteCredentials, region: "us-east-1", service: "service")
        let headers = signer.sign(method: "GET", url: URL(string: "https://example.amazonaws.com/?Param2=value2&Param1=value1")!,
                                  headers: [("Host", "example.amazonaws.com")], payloadHash: SigV4Signer.emptyPayloadHash, date: Self.suiteDate)
        #expect(authorization(headers).hasSuffix("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"))
    }

    @Test("S3 GET Object example: canonical request and signature")
    func s3GetObject() {
        let credentials = AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1")
        let url = URL(string: "https://examplebucket.s3.amazonaws.com/test.txt")!
        let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
        let (canonical, signed) = SigV4Signer.canonicalRequest(method: "GET", url: url, headers: [
            ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash), ("x-amz-date", "20130524T000000Z"),
        ], payloadHash: SigV4Signer.emptyPayloadHash)
        #expect(canonical == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(signed == "host;range;x-amz-content-sha256;x-amz-date")
        let headers = signer.sign(method: "GET", url: url, headers: [("Range", "bytes=0-9")], payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(authorization(headers) == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("the secret never shows in a description")
    func redaction() {
        #expect(!"\(Self.suiteCredentials)".contains("wJalrXUtnFEMI"))
    }
}
