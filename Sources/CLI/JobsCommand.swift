import ArgumentParser
import Foundation
import Plugins
import Storage

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List, inspect and retry jobs.",
        subcommands: [List.self, Show.self, Retry.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The most recent jobs, newest first.")

        @Option(help: "Only jobs in this state: queued, running, done, failed.")
        var status: JobState?

        @Option(help: "How many to show.")
        var limit = 50

        @Flag(help: "One JSON object per job per line.")
        var json = false

        func run() async throws {
            let (database, _) = try await GatewayConfiguration.fromEnvironment().openStorage()
            let jobs = try await database.jobs(state: status, limit: limit)
            for job in jobs {
                if json {
                    printJSON(["code": job.code, "state": job.state.rawValue, "file": job.sourceName, "origin": job.origin.rawValue,
                               "created": Date(timeIntervalSince1970: job.createdAt).formatted(.iso8601), "error": job.lastError ?? NSNull()])
                } else {
                    let created = Date(timeIntervalSince1970: job.createdAt).formatted(.iso8601)
                    print("\(job.code)  \(job.state.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))  \(created)  \(job.sourceName)\(job.lastError.map { "  — \($0)" } ?? "")")
                }
            }
            if jobs.isEmpty && !json { print("no jobs") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One job: its steps, attempts, timings, cost and analysis.")

        @Argument(help: "The job code.")
        var code: String

        func run() async throws {
            let (database, _) = try await GatewayConfiguration.fromEnvironment().openStorage()
            guard let details = try await database.jobDetails(code: code) else { throw WorkFailed(message: "no job \(code.uppercased())") }
            let job = details.job
            print("job \(job.code): \(job.state.rawValue)")
            print("file: \(job.sourceName) (\(details.document.format), \(details.document.size) bytes, sha256 \(details.document.sha256))")
            if let group = job.groupID { print("group: \(group) (botgateway export --group \(group))") }
            if let error = job.lastError { print("error: \(error)") }
            for step in details.steps {
                var line = "step \(step.plugin): \(step.state.rawValue), \(step.attempts) attempt(s)"
                if let ms = step.durationMilliseconds { line += String(format: ", %.0f ms", ms) }
                if step.inputTokens + step.outputTokens > 0 {
                    line += String(format: ", %d+%d tokens, $%.4f", step.inputTokens, step.outputTokens, step.costUSD)
                }
                if let error = step.error { line += " — \(error)" }
                print(line)
            }
            // Whether the answer reached the chat: sent, still retrying (an outage), or undelivered after the horizon.
            if let jobID = job.id, let reply = try await database.resultReply(jobID: jobID, groupID: job.groupID) {
                var line = "reply: \(reply.state.rawValue), \(reply.attempts) attempt(s)"
                if let error = reply.lastError, reply.state != .sent { line += " — \(error)" }
                print(line)
            }
            if let analysis = details.analysis {
                print("analysis: \(analysis.title)")
                print("  \(analysis.summary)")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue a failed job again; it runs on the next `serve` or `batch`.")

        @Argument(help: "The job code.")
        var code: String

        func run() async throws {
            let (database, _) = try await GatewayConfiguration.fromEnvironment().openStorage()
            do {
                let job = try await database.retryJob(code: code)
                print("job \(job.code) queued again")
            } catch let error as StorageError {
                throw WorkFailed(message: error.description)
            }
        }
    }
}

extension JobState: ExpressibleByArgument {}

func printJSON(_ object: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
        print(String(decoding: data, as: UTF8.self))
    }
}
