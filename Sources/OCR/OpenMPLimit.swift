import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Tesseract's OpenMP reads OMP_THREAD_LIMIT once, when libgomp loads — before `main` runs — so
/// `setenv` alone has no effect. Unlimited, its threads fight the other engines and run 3–6× slower
/// on a busy machine. Executables call this first: it re-executes the binary once with the limit set.
/// An operator's own value is respected.
public enum OpenMPLimit {
    public static func reexecuteIfUnset(threads: Int = 1) {
        guard getenv("OMP_THREAD_LIMIT") == nil else { return }
        setenv("OMP_THREAD_LIMIT", String(threads), 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed (no /proc): carry on, slower; the pool logs a warning.
    }
}
