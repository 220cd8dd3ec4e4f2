import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Tesseract's OpenMP reads OMP_THREAD_LIMIT once, when libgomp loads — before this line runs.
// Unlimited, its threads fight the other engines and run 3–6× slower on a busy machine, so the
// binary re-executes itself once with the limit set. An operator's own value is respected.
if getenv("OMP_THREAD_LIMIT") == nil {
    setenv("OMP_THREAD_LIMIT", "1", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // exec failed (no /proc): carry on, slower; the pool logs a warning.
}

await CommandLineEntry.run()
