import Foundation

/// Left-aligns `text` in a column of `width` characters (one space after it when it is wider).
func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

/// The first executable named `name` on `PATH`.
func which(_ name: String) -> String? {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        .map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
}
