import Foundation
import OCIWriter
import Synchronization
import Testing

@testable import BuildEngine
@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

@Suite("OCI layout bases")
struct ImageBaseTests {
    @Test(
        "a phase's layer assembled into an OCI image serves as the base of the next phase (oci-layout:path:tag and registry:ref)"
    )
    func layoutBase() throws {
        let sb = try Fixture.rootSandbox()
        let base = try Fixture.debianRootfs()
        let work = try Fixture.tempDir("image")
        defer { try? FileManager.default.removeItem(atPath: work) }

        // Layer 1: the base rootfs itself; layer 2: a phase.
        let baseLayer = try LayerWriter.write(
            directory: base, to: work + "/base.tar.gz",
            options: LayerWriteOptions(idMapping: sb.identity.idMapping))
        let phase = try sb.run(
            PhaseSpec(name: "p", command: ["/bin/sh", "-c", "echo from-phase > /marker; rm /etc/issue"]),
            base: base, output: Fixture.Output().sink)
        defer { phase.discard() }
        let phaseLayer = try phase.writeLayer(to: work + "/phase.tar.gz")
        let layout = try OCILayout.create(at: work + "/layout")
        let inputs = [(work + "/base.tar.gz", baseLayer), (work + "/phase.tar.gz", phaseLayer)].map {
            LayerInput(file: $0.0, mediaType: $0.1.mediaType, digest: $0.1.digest, size: $0.1.size, diffID: $0.1.diffID)
        }
        _ = try ImageAssembler(base: .scratch(platform: .host), layers: inputs, destination: layout, tag: "v1")
            .assemble()

        let source = try BaseSource.parse("oci-layout:\(work)/layout:v1")
        #expect(source == .ociLayout(path: work + "/layout", tag: "v1"))
        let rootfs = try BaseStore(state: sb.state, identity: sb.identity).rootfs(for: source)
        let out = Fixture.Output()
        let next = try sb.run(
            PhaseSpec(
                name: "next",
                command: ["/bin/sh", "-c", "cat /marker; test ! -e /etc/issue && echo gone; stat -c %u /etc/shadow"]),
            base: rootfs, output: out.sink)
        next.discard()
        #expect(out.lines == ["from-phase", "gone", "0"])
        #expect(throws: BuildEngineError.self) { try BaseSource.parse("oci-layout:\(work)") }

        // The same image through a loopback registry: --base registry:<ref>.
        let registry = try LocalRegistry(dir: work + "/registry")
        defer { registry.stop() }
        let ref = try ImageReference(parsing: "\(registry.host)/sandbox/base:v1")
        let client = try RegistryClient(registry: registry.host, credential: nil)
        try awaitBlocking { _ = try await client.push(from: layout, tag: "v1", to: ref) }
        let pulledSource = try BaseSource.parse("registry:\(ref)")
        #expect(pulledSource == .registry(ref.description))
        let pulled = try BaseStore(state: sb.state, identity: sb.identity).rootfs(for: pulledSource)
        let out2 = Fixture.Output()
        try sb.run(
            PhaseSpec(name: "pulled", command: ["/bin/sh", "-c", "cat /marker"]), base: pulled, output: out2.sink
        ).discard()
        #expect(out2.lines == ["from-phase"])
    }
}

/// Runs an async operation from synchronous test code.
func awaitBlocking(_ body: @escaping @Sendable () async throws -> Void) throws {
    let box = Mutex<Error?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do { try await body() } catch { box.withLock { $0 = error } }
        done.signal()
    }
    done.wait()
    if let e = box.withLock({ $0 }) { throw e }
}

/// A `docker-registry` on a free loopback port with storage under `dir`.
final class LocalRegistry: @unchecked Sendable {
    let process = Process()
    let host: String

    init(dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let port = try Self.freePort()
        host = "127.0.0.1:\(port)"
        let config = """
            version: 0.1
            storage:
              filesystem:
                rootdirectory: \(dir)/data
            http:
              addr: 127.0.0.1:\(port)
            log:
              level: error
            """
        try config.write(toFile: dir + "/config.yml", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", dir + "/config.yml"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready when /v2/ answers (the registry prints nothing useful to wait on).
        for _ in 0..<500 {
            if (try? runHost("/usr/bin/curl", ["-sf", "-o", "/dev/null", "http://\(host)/v2/"]))?.status == 0 { return }
            usleep(20_000)
        }
        stop()
        throw SandboxError(.launch, "docker-registry did not start on \(host)")
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else { throw SandboxError(.launch, "no free port", errno: errno) }
        return UInt16(bigEndian: addr.sin_port)
    }
}
