import Foundation

/// A document to read: a file on disk (the usual case: blobs and batch folders) or bytes in memory.
public enum OCRInput: Sendable, CustomStringConvertible {
    case file(String)
    case data(Data)

    var isFile: Bool {
        if case .file = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .file(let path): path
        case .data(let data): "\(data.count) bytes in memory"
        }
    }
}
