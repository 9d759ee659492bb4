import Foundation
import OCIWriter
import Testing
@testable import Sandbox
#if canImport(Glibc)
import Glibc
#endif

@Suite("OCI layout bases")
struct ImageBaseTests {
    @Test("a phase's layer assembled into an OCI image serves as the base of the next phase (oci-layout:path:tag)")
    func layoutBase() throws {
        let sb = try Fixture.rootSandbox()
        let base = try Fixture.debianRootfs()
        let work = try Fixture.tempDir("image")
        defer { try? FileManager.default.removeItem(atPath: work) }

        // Layer 1: the base rootfs itself; layer 2: a phase.
        let baseLayer = try LayerWriter.write(directory: base, to: work + "/base.tar.gz",
                                              options: LayerWriteOptions(idMapping: sb.identity.idMapping))
        let phase = try sb.run(PhaseSpec(name: "p", command: ["/bin/sh", "-c", "echo from-phase > /marker; rm /etc/issue"]),
                               base: base, output: Fixture.Output().sink)
        defer { phase.discard() }
        let phaseLayer = try phase.writeLayer(to: work + "/phase.tar.gz")
        let layout = try OCILayout.create(at: work + "/layout")
        let inputs = [(work + "/base.tar.gz", baseLayer), (work + "/phase.tar.gz", phaseLayer)].map {
            LayerInput(file: $0.0, mediaType: $0.1.mediaType, digest: $0.1.digest, size: $0.1.size, diffID: $0.1.diffID)
        }
        _ = try ImageAssembler(base: .scratch(platform: .host), layers: inputs, destination: layout, tag: "v1").assemble()

        let source = try BaseSource.parse("oci-layout:\(work)/layout:v1")
        #expect(source == .ociLayout(path: work + "/layout", tag: "v1"))
        let rootfs = try BaseStore(state: sb.state, identity: sb.identity).rootfs(for: source)
        let out = Fixture.Output()
        let next = try sb.run(PhaseSpec(name: "next", command: ["/bin/sh", "-c", "cat /marker; test ! -e /etc/issue && echo gone; stat -c %u /etc/shadow"]),
                              base: rootfs, output: out.sink)
        next.discard()
        #expect(out.lines == ["from-phase", "gone", "0"])
        #expect(throws: SandboxError.self) { try BaseSource.parse("oci-layout:\(work)") }
    }
}
