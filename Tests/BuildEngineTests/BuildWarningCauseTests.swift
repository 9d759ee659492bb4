import Foundation
import OCIWriter
import Testing

@testable import BuildEngine

#if canImport(Glibc)
    import Glibc
#endif

/// A warning caused by another module's error keeps that error typed (`cause`); the text and JSON renderings
/// carry it after the message, and a JSON report read back keeps its text.
@Suite struct BuildWarningCauseTests {
    /// A loopback port nothing listens on (bound, then closed).
    static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    @Test("an unreachable registry cache: a registryCache warning whose cause is the registry client's error")
    func registryCacheWarningKeepsItsCause() async throws {
        let ref = try ImageReference(parsing: "127.0.0.1:\(Self.closedPort())/cache:latest")
        var registry = RegistryOptions()
        registry.maxAttempts = 1
        registry.timeout = 5
        let notices = LockedLines()
        let session = RegistryCache(
            options: RegistryCacheOptions(importFrom: [ref]),
            transport: ImageTransport(options: registry, credentials: { _ in nil }),
            notice: { notices.append($0) })
        // The engine's thread, not the cooperative pool: `pull` waits for its registry I/O (Engine/Blocking.swift).
        let found = try await OCILayout.offloading {
            session.pull("k1", temporaryFile: { NSTemporaryDirectory() + "/ocf-warning-\(UUID())" }) != nil
        }
        #expect(!found)
        let warning = try #require(session.warnings.first)
        #expect(session.warnings.count == 1)
        #expect(warning.code == .registryCache)
        #expect(warning.message.contains("is unusable, the step is built instead"))
        let cause = try #require(warning.cause as? OCIWriterError, "typed cause: \(String(describing: warning.cause))")
        #expect(!warning.message.contains(cause.message), "the message does not embed the cause: \(warning.message)")
        #expect(warning.description == warning.message + ": \(cause)")
        #expect(notices.lines == [warning.description])

        let json = try JSONEncoder().encode(warning)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["code"] as? String == "registryCache")
        #expect(object["cause"] as? String == "\(cause)")
        let decoded = try JSONDecoder().decode(BuildWarning.self, from: json)
        #expect(decoded == warning)
        #expect(decoded.cause is RecordedCause)
        #expect(decoded.description == warning.description)
    }

    @Test("a warning without a cause renders and encodes as before")
    func noCause() throws {
        let w = BuildWarning(.phase, "a socket was not stored", step: "build/install")
        #expect(w.description == "build/install: a socket was not stored")
        let object = try #require(
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(w)) as? [String: Any])
        #expect(Set(object.keys) == ["code", "message", "step"])
    }
}

/// Lines appended from any thread.
final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.withLock { stored.append(line) } }
    var lines: [String] { lock.withLock { stored } }
}
