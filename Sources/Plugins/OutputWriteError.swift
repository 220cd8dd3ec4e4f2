import Foundation

/// A report or an export that could not be written: what, where and why.
public struct OutputWriteError: Error, Sendable, CustomStringConvertible {
    public var what: String
    public var path: String
    public var reason: String

    public init(what: String, path: String, reason: String) {
        self.what = what
        self.path = path
        self.reason = reason
    }

    public var description: String { "cannot write the \(what) to \(path): \(reason)" }
}
