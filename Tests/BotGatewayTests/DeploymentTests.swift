import Foundation
import PostgresStore
import TestSupport
import Testing

/// The deployment files a user runs as they are: the systemd units pass systemd's own validators, and the
/// compose file and Dockerfile (no Docker engine runs here) are checked against what the binary, the README
/// and `scripts/setup` say: every command they run is one the binary takes, every variable one it reads.
@Suite("Deployment artefacts: systemd units, compose.yaml, Dockerfile")
struct DeploymentTests {
    static let root = GatewayHarness.root

    /// The units as installed, with the binary at the path this test built and the settings file optional.
    private func installedUnits(in folder: URL) throws -> [String] {
        let units = ["botgateway.service": "botgateway.service", "botgateway-worker@.service": "botgateway-worker@8081.service"]
        for (source, name) in units {
            let text = try String(contentsOf: Self.root.appendingPathComponent("deploy/systemd/\(source)"), encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/botgateway", with: ChildProcess.botgateway)
                .replacingOccurrences(of: "EnvironmentFile=/", with: "EnvironmentFile=-/")
            try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return units.values.sorted()
    }

    @Test("the systemd units pass systemd-analyze verify without a warning and score OK on its sandboxing check")
    func systemdUnits() async throws {
        guard let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("systemd unit check skipped: systemd-analyze is not installed")
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let units = try installedUnits(in: folder).map { folder.appendingPathComponent($0).path }
        let verify = try await ChildProcess.runOffPool([analyze, "verify", "--man=no"] + units)
        #expect(verify.exitCode == 0, "\(verify.standardError)")
        // Unknown keys and unparsable values are only warnings to verify: none may appear.
        #expect(verify.standardError.isEmpty, "\(verify.standardError)")
        for unit in units {
            // Exposure 0 (locked down) to 10 (unsafe); 2 or less is systemd's "OK".
            let security = try await ChildProcess.runOffPool([analyze, "security", "--offline=true", "--threshold=20", unit])
            #expect(security.exitCode == 0, "\(unit): \(security.standardOutput.split(separator: "\n").last ?? "")")
        }
    }

    @Test("every command the units, the compose file and the image run is one the binary parses")
    func commandsExist() async throws {
        var commands: [[String]] = [["serve", "--no-workers"], ["worker", "--port", "8081"], ["serve"]]
        if let compose = try await readCompose() {
            for service in ["gateway", "worker"] {
                commands.append(try #require((compose["services"] as? [String: Any])?[service] as? [String: Any])["command"] as? [String] ?? [])
            }
        }
        // Parsed, not run: a command the parser takes goes on to read its configuration, where a wrong
        // DATABASE_URL stops it with one line. (`--help` would not do: it succeeds whatever precedes it.)
        func parses(_ command: [String]) async throws -> Bool {
            let outcome = try await ChildProcess.runOffPool([ChildProcess.botgateway] + command, environment: ChildProcess.environment([
                "DATABASE_URL": "mysql://not-postgres", "BOT_DATA_DIR": FileManager.default.temporaryDirectory.appendingPathComponent("parse-only").path]))
            return outcome.exitCode == 2 && outcome.standardError.hasPrefix("botgateway: DATABASE_URL:")
        }
        for command in commands {
            #expect(try await parses(command), "\(command)")
        }
        #expect(try await parses(["worker", "--prot", "8081"]) == false)
        let units = try ["botgateway.service", "botgateway-worker@.service"].map {
            try String(contentsOf: Self.root.appendingPathComponent("deploy/systemd/\($0)"), encoding: .utf8)
        }
        #expect(units[0].contains("ExecStart=/usr/local/bin/botgateway serve --no-workers\n"))
        #expect(units[1].contains("ExecStart=/usr/local/bin/botgateway worker --port %i\n"))
    }

    /// compose.yaml as JSON, through Python's YAML reader; nil (with a note) where it is not installed.
    private func readCompose() async throws -> [String: Any]? {
        let script = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"
        let outcome = try await ChildProcess.runOffPool(["/usr/bin/env", "python3", "-c", script, Self.root.appendingPathComponent("compose.yaml").path])
        guard outcome.exitCode == 0 else {
            print("compose.yaml check skipped: python3 with PyYAML is not available (\(outcome.standardError.prefix(200)))")
            return nil
        }
        return try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any]
    }

    @Test("compose.yaml: a gateway, two workers, PostgreSQL and S3; the processes share the database and the bucket and read only documented variables")
    func composeServices() async throws {
        guard let compose = try await readCompose() else { return }
        let services = try #require(compose["services"] as? [String: [String: Any]])
        #expect(Set(services.keys).isSuperset(of: ["gateway", "worker", "postgres", "s3"]))
        #expect((services["worker"]?["deploy"] as? [String: Any])?["replicas"] as? Int ?? 1 >= 2)
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        for name in ["gateway", "worker"] {
            let environment = try #require(services[name]?["environment"] as? [String: String])
            #expect(environment["BLOB_STORE"] == "s3")
            #expect(environment["S3_ENDPOINT"] == "http://s3:9000")
            // Defaults filled in as compose would, then read as the binary reads it.
            let url = try #require(environment["DATABASE_URL"]).replacingOccurrences(of: "${POSTGRES_PASSWORD:-change-me-postgres}", with: "change-me-postgres")
            let parsed = try DatabaseURL(url)
            #expect(parsed.host == "postgres")
            for variable in environment.keys {
                #expect(readme.contains("`\(variable)`"), "\(name) sets \(variable), which the README does not document")
            }
            let healthPort = environment["HEALTH_PORT"]
            let command = services[name]?["command"] as? [String] ?? []
            #expect(name == "gateway" ? healthPort == "8080" : command.contains(try #require(healthPort)))
        }
    }

    @Test("the Dockerfile builds in one stage and runs as a non-root user in another, with the data volume, a /healthz check and setup's libraries")
    func dockerfile() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix("#") }
        let stages = lines.indices.filter { lines[$0].hasPrefix("FROM ") }
        #expect(stages.count == 2)
        let final = lines[(stages.last ?? 0)...]
        let user = try #require(final.last { $0.hasPrefix("USER ") })
        #expect(!["USER root", "USER 0", "USER root:root"].contains(user))
        #expect(final.contains { $0.hasPrefix("VOLUME") && $0.contains("/var/lib/botgateway") })
        #expect(final.contains { $0.hasPrefix("ENV BOT_DATA_DIR=/var/lib/botgateway") })
        #expect(text.contains("HEALTHCHECK") && text.contains("/healthz"))
        #expect(final.contains { $0.hasPrefix("ENTRYPOINT") && $0.contains("botgateway") })
        for line in lines where line.hasPrefix("COPY ") && !line.contains("--from") {
            let source = String(line.split(separator: " ")[1])
            #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(source).path), "COPY \(source)")
        }
        // The build stage installs the libraries scripts/setup does; the run stage the language data and PDF tools.
        let setup = try String(contentsOf: Self.root.appendingPathComponent("scripts/setup"), encoding: .utf8)
        for library in ["libtesseract-dev", "libleptonica-dev", "libcurl4-openssl-dev", "libsqlite3-dev"] {
            #expect(setup.contains(library) && text.contains(library), "\(library)")
        }
        for package in ["tesseract-ocr-eng", "poppler-utils", "ca-certificates"] {
            #expect(final.joined(separator: " ").contains(package), "\(package)")
        }
    }
}
