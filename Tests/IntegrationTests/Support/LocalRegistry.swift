import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Debian's docker-registry serving `<dir>/data` on `address` (loopback) and a free port, with htpasswd auth when
/// `user` is given (else anonymous); `stop()` kills it. Every integration test that needs a registry starts one.
final class LocalRegistry {
    let process: Process
    let address: String
    let port: Int
    var host: String { "\(address):\(port)" }

    /// `readOnly`: the registry's maintenance read-only mode (pulls work, every write is refused).
    init(
        dir: String, address: String = "127.0.0.1", user: String? = nil, password: String = "", readOnly: Bool = false
    ) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        self.address = address
        port = BuildEndToEndTests.freePort()
        if let user {
            let hash = try Harness.ok(["htpasswd", "-Bbn", user, password]).trimmingCharacters(
                in: .whitespacesAndNewlines)
            try (hash + "\n").write(toFile: dir + "/htpasswd", atomically: true, encoding: .utf8)
        }
        try """
        version: 0.1
        log: {level: error, accesslog: {disabled: true}}
        storage: {filesystem: {rootdirectory: \(dir)/data}\(readOnly ? ", maintenance: {readonly: {enabled: true}}" : "")}
        http: {addr: \(address):\(port), secret: ociforge-test}
        \(user == nil ? "" : "auth: {htpasswd: {realm: ociforge-test, path: \(dir)/htpasswd}}")
        """.write(toFile: dir + "/config.yml", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", dir + "/config.yml"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if try Harness.run(["curl", "-s", "-o", "/dev/null", "http://\(address):\(port)/v2/"]).status == 0 {
                return
            }
            usleep(50_000)
        }
        stop()
        throw HarnessError("docker-registry did not answer on \(address):\(port)")
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
