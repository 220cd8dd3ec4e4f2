import ArgumentParser
import Foundation
import OCR

OpenMPLimit.reexecuteIfUnset()

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "botgateway-bench",
        abstract: "Benchmarks that print figures (never timed tests).",
        subcommands: [OCRBenchmark.self, ExtractionBenchmark.self, PipelineBenchmark.self, WebhookBenchmark.self, UploadBenchmark.self, DashboardBenchmark.self, S3Benchmark.self, S3UploadChild.self, PipelineWorkerChild.self, LLMBenchmark.self, SoakBenchmark.self, SearchablePDFBenchmark.self, AskBenchmark.self, PageSetBenchmark.self]
    )
}

/// In a function, not top-level code: there `run()` resolves to the synchronous requirement, which prints help.
func runBench() async {
    do {
        var command = try Bench.parseAsRoot()
        if var asyncCommand = command as? AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    } catch {
        Bench.exit(withError: error)
    }
}

await runBench()
