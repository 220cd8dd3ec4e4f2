import Foundation

/// A `multipart/form-data` body (RFC 7578) read from a file: its text fields, and its one file part as a byte
/// range of that file (so a large upload is never held in memory twice).
struct MultipartForm: Sendable, Equatable {
    struct FilePart: Sendable, Equatable {
        var field: String
        var filename: String?
        var contentType: String?
        var range: Range<Int>
    }

    enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed(String)

        var description: String {
            switch self { case .malformed(let why): "the multipart body is malformed: \(why)" }
        }
    }

    var fields: [String: String] = [:]
    var file: FilePart?

    static let maxFields = 16
    static let maxFieldBytes = 8192

    /// The boundary parameter of a `multipart/form-data` content type; nil for any other type.
    static func boundary(contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return (1...70).contains(value.utf8.count) ? value : nil
        }
        return nil
    }

    /// Parses `data`; the first part with a `filename` (or named `fileField`) is the file.
    static func parse(_ data: Data, boundary: String, fileField: String = "file") throws(Failure) -> MultipartForm {
        let delimiter = Data("--\(boundary)".utf8), crlf = Data("\r\n".utf8), headerEnd = Data("\r\n\r\n".utf8)
        guard var cursor = data.range(of: delimiter)?.upperBound else { throw .malformed("the boundary never appears") }
        var form = MultipartForm()
        var parts = 0
        while true {
            // After a delimiter: "--" ends the body, CRLF starts a part.
            if data[cursor...].starts(with: Data("--".utf8)) { return form }
            guard data[cursor...].starts(with: crlf) else { throw .malformed("a boundary is not followed by a line break") }
            let headerStart = cursor + 2
            guard let headersRange = data.range(of: headerEnd, in: headerStart..<data.endIndex) else { throw .malformed("a part's headers never end") }
            guard headersRange.lowerBound - headerStart <= 8192 else { throw .malformed("a part's headers are too long") }
            let headers = String(decoding: data[headerStart..<headersRange.lowerBound], as: UTF8.self)
            let bodyStart = headersRange.upperBound
            guard let next = data.range(of: crlf + delimiter, in: bodyStart..<data.endIndex) else { throw .malformed("the closing boundary is missing") }
            parts += 1
            guard parts <= maxFields else { throw .malformed("more than \(maxFields) parts") }
            let disposition = Self.disposition(headers)
            guard let name = disposition["name"] else { throw .malformed("a part has no name") }
            if disposition["filename"] != nil || name == fileField {
                if form.file == nil {
                    form.file = FilePart(field: name, filename: disposition["filename"], contentType: Self.header("content-type", in: headers),
                                         range: bodyStart..<next.lowerBound)
                }
            } else {
                guard next.lowerBound - bodyStart <= maxFieldBytes else { throw .malformed("the field \(name) is longer than \(maxFieldBytes) bytes") }
                form.fields[name] = String(decoding: data[bodyStart..<next.lowerBound], as: UTF8.self)
            }
            cursor = next.upperBound
        }
    }

    private static func header(_ name: String, in headers: String) -> String? {
        for line in headers.components(separatedBy: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == name {
                return pair[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// The parameters of the part's `Content-Disposition` (`name`, `filename`), unquoted.
    private static func disposition(_ headers: String) -> [String: String] {
        guard let value = header("content-disposition", in: headers) else { return [:] }
        var result: [String: String] = [:]
        var rest = Substring(value)
        // Past the disposition type ("form-data").
        guard let semicolon = rest.firstIndex(of: ";") else { return [:] }
        rest = rest[rest.index(after: semicolon)...]
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == ";" }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var parsed = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped { parsed.append(character); escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { break } else { parsed.append(character) }
                }
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                parsed = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            result[key] = parsed
        }
        return result
    }
}
