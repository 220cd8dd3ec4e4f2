import ArgumentParser
import Foundation
import Plugins
import Storage

extension ExportFormat: ExpressibleByArgument {}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "One row per document (file, job, type, date, merchant, total, currency, tax, …) as CSV or JSON.",
        discussion: """
        Formats: csv (RFC 4180, UTF-8), excel (the same CSV with a UTF-8 byte-order mark, which spreadsheet apps \
        need to show non-ASCII text), json (an array of objects). Cells a spreadsheet would run as a formula \
        (starting with = + - @) get a leading apostrophe, except plain numbers.
        """
    )

    @Option(help: "Only the documents of this group (a batch folder's or a chat's report; the id `jobs show` prints).")
    var group: Int64?

    @Option(help: "Only documents received on or after this day (YYYY-MM-DD, UTC) or moment (ISO 8601).")
    var since: String?

    @Option(help: "csv, excel or json.")
    var format: ExportFormat = .csv

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    func validate() throws {
        if group != nil && since != nil { throw ValidationError("--group and --since cannot be combined") }
        if let since, Self.moment(since) == nil { throw ValidationError("--since: expected YYYY-MM-DD or an ISO 8601 date and time, got \(since)") }
    }

    static func moment(_ text: String) -> Date? {
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return ISO8601DateFormatter().date(from: text) ?? day.date(from: text)
    }

    func run() async throws {
        let (database, _) = try await GatewayConfiguration.fromEnvironment().openStorage()
        let jobs = if let group {
            try await database.jobDetails(groupID: group)
        } else {
            try await database.jobDetails(since: since.flatMap(Self.moment)?.timeIntervalSince1970)
        }
        guard let output else { return FileHandle.standardOutput.write(try DocumentExport.render(jobs.map(ExportRow.init), as: format)) }
        do {
            try DocumentExport.write(jobs, as: format, to: output)
        } catch let error as OutputWriteError {
            throw WorkFailed(message: error.description)
        }
    }
}
