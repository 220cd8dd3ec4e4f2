import Foundation
import Hummingbird
import Plugins
import Storage

/// A stored original as an HTTP response, for the API and the dashboard alike: its type as found from its
/// content, its size, a file name a browser keeps, and never sniffed as another type (someone else's bytes).
enum OriginalResponse {
    /// `disposition` is `attachment` (save it) or `inline` (show it); `headers` adds to these.
    static func make(_ document: DocumentRecord, at path: String, name: String, disposition: String, headers: HTTPFields = [:],
                     context: some RequestContext) async throws -> Response {
        try await file(at: path, contentType: document.mimeType, size: document.size, name: name, disposition: disposition, headers: headers, context: context)
    }

    /// Any file we made for a document (its searchable PDF), the same way.
    static func file(at path: String, contentType: String, size: Int64? = nil, name: String, disposition: String, headers: HTTPFields = [:],
                     context: some RequestContext) async throws -> Response {
        let size = size ?? ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int).map(Int64.init) ?? 0)
        var fields: HTTPFields = [
            .contentType: contentType, .contentLength: "\(size)",
            .contentDisposition: "\(disposition); filename=\"\(headerSafe(name))\"",
            .init("X-Content-Type-Options")!: "nosniff",
        ]
        fields.append(contentsOf: headers)
        return Response(status: .ok, headers: fields, body: try await FileIO().loadFile(path: path, context: context))
    }

    /// A document as a searchable PDF to download, made now when none was kept; a PDF with its own text (searchable
    /// already) as it was uploaded, its bytes from `original`. Nil when the document has not been read yet. Throws
    /// what making or fetching it threw, for the caller to answer in its own words.
    static func searchablePDF(of document: DocumentRecord, name: String, from pdfs: SearchablePDFs, original: () async throws -> String,
                              context: some RequestContext) async throws -> Response? {
        switch try await pdfs.file(for: document) {
        case .file(let path):
            return try await file(at: path, contentType: "application/pdf", name: SearchablePDFs.fileName(for: name), disposition: "attachment",
                                  context: context)
        case .hasOwnText:
            return try await make(document, at: try await original(), name: name, disposition: "attachment", context: context)
        case .notReadYet:
            return nil
        }
    }

    /// A file name fit for a quoted header value: printable ASCII without quotes or backslashes.
    static func headerSafe(_ name: String) -> String {
        String(name.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0 != "\"" && $0 != "\\" && $0.value != 0x7f }.map(Character.init))
    }
}
