import Foundation
import Plugins

/// A folder's regular files, sorted, hidden ones and `excluding` (files, or folders with all they hold) left out; everything else found is listed as
/// skipped with the reason (symbolic links are not followed, so a link loop cannot trap the walk, and a FIFO is
/// never opened, so it cannot hang it).
public enum FolderListing {
    public static func list(_ root: URL, recursive: Bool, excluding: Set<String>) -> (files: [URL], skipped: [ReportBuilder.Skipped]) {
        var files: [URL] = [], skipped: [ReportBuilder.Skipped] = []
        // The entry or a folder it is in, up to the root: a few set lookups per entry, whatever `excluding` holds.
        func excluded(_ url: URL) -> Bool {
            var path = url.standardizedFileURL.path
            while path.count > root.path.count {
                if excluding.contains(path) { return true }
                path = (path as NSString).deletingLastPathComponent
            }
            return false
        }
        for url in entries(root, recursive: recursive).sorted(by: { $0.path < $1.path }) where !excluded(url) {
            var info = stat()
            guard lstat(url.path, &info) == 0 else {
                skipped.append(.init(name: relativeName(url, root), reason: "cannot be read: \(String(cString: strerror(errno)))"))
                continue
            }
            if let reason = reason(toSkip: info.st_mode & S_IFMT, recursive: recursive) {
                skipped.append(.init(name: relativeName(url, root), reason: reason))
            } else if info.st_mode & S_IFMT == S_IFREG {
                files.append(url)
            }
        }
        return (files, skipped)
    }

    private static func entries(_ root: URL, recursive: Bool) -> [URL] {
        guard recursive else {
            return (try? FileManager.default.contentsOfDirectory(at: root, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles])) ?? []
        }
        var entries: [URL] = []
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isSymbolicLinkKey], options: [.skipsHiddenFiles])
        while let url = enumerator?.nextObject() as? URL { entries.append(url) }
        return entries
    }

    /// Nil for what is read: regular files, and folders when recursing (their files are listed themselves).
    private static func reason(toSkip type: mode_t, recursive: Bool) -> String? {
        switch type {
        case S_IFREG: nil
        case S_IFDIR: recursive ? nil : "a folder (add --recursive to read folders)"
        case S_IFLNK: "a symbolic link (links are not followed)"
        case S_IFIFO: "a named pipe, not a file"
        case S_IFSOCK: "a socket, not a file"
        default: "a device, not a file"
        }
    }

    public static func relativeName(_ url: URL, _ root: URL) -> String {
        String(url.path.dropFirst(root.path.count + 1))
    }
}
