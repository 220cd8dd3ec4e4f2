import Foundation
import Plugins
import Testing

/// `botgateway jobs` and `botgateway users` as an admin runs them.
@Suite("botgateway jobs and users")
struct AdminCommandTests {
    @Test("a failed job is listed, shown with its reason and retried")
    func jobs() async throws {
        let workspace = try BatchCommandTests.Workspace(files: [("receipt.jpg", "receipt.jpg"), ("bad/truncated.png", "broken.png")])
        defer { workspace.remove() }
        let run = try await workspace.batch()
        #expect(run.code == 1)
        let failed = try await Child.run([Paths.binary, "jobs", "list", "--status", "failed", "--json"], environment: workspace.environment)
        #expect(failed.code == 0)
        let rows = BatchCommandTests.events(failed.output)
        #expect(rows.count == 1)
        let code = try #require(rows.first?["code"] as? String)
        #expect(rows.first?["file"] as? String == "broken.png")

        let shown = try await Child.run([Paths.binary, "jobs", "show", code.lowercased()], environment: workspace.environment)
        #expect(shown.code == 0)
        #expect(shown.output.contains("job \(code): failed"))
        #expect(shown.output.contains("step ocr: failed, 1 attempt(s)"))
        #expect(shown.output.contains("damaged or incomplete"))

        let retried = try await Child.run([Paths.binary, "jobs", "retry", code], environment: workspace.environment)
        #expect(retried.code == 0)
        #expect(retried.output.contains("queued again"))
        let again = try await Child.run([Paths.binary, "jobs", "retry", code], environment: workspace.environment)
        #expect(again.code == 1)
        #expect(again.error.contains("only failed jobs can be retried"))
        let missing = try await Child.run([Paths.binary, "jobs", "show", "NOPE23"], environment: workspace.environment)
        #expect(missing.code == 1)
        let badStatus = try await Child.run([Paths.binary, "jobs", "list", "--status", "sleeping"], environment: workspace.environment)
        #expect(badStatus.code == 2)
    }

    @Test("users are added, listed with their role and removed")
    func users() async throws {
        let workspace = try BatchCommandTests.Workspace(files: [])
        defer { workspace.remove() }
        let environment = workspace.environment
        #expect(try await Child.run([Paths.binary, "users", "add", "42"], environment: environment).code == 0)
        #expect(try await Child.run([Paths.binary, "users", "add", "7", "--admin"], environment: environment).code == 0)
        let listed = try await Child.run([Paths.binary, "users", "list"], environment: environment)
        #expect(listed.output.contains("7  admin"))
        #expect(listed.output.contains("42  user"))
        #expect(try await Child.run([Paths.binary, "users", "remove", "42"], environment: environment).code == 0)
        #expect(try await Child.run([Paths.binary, "users", "remove", "42"], environment: environment).code == 1)
        #expect(try await Child.run([Paths.binary, "users", "add", "-5"], environment: environment).code == 2)
        // A line per user, id first ("42" alone could be in a timestamp).
        #expect(!(try await Child.run([Paths.binary, "users", "list"], environment: environment).output.split(separator: "\n").contains { $0.hasPrefix("42 ") }))
    }

    @Test("file names are shown, never used as paths")
    func safeNames() {
        #expect(DocumentIntake.safeName("../../etc/passwd") == "passwd")
        #expect(DocumentIntake.safeName("scan\u{0}\n.png") == "scan.png")
        #expect(DocumentIntake.safeName("..") == "document")
        #expect(DocumentIntake.safeName(String(repeating: "a", count: 500)).count == 120)
    }
}
