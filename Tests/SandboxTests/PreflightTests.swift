import Foundation
import Sandbox
import Testing

/// The preflight (Sources/Sandbox/Preflight.swift) on this machine, where the sandbox works: every probe passes
/// as root and as an unprivileged user. The refusals inside a container are shown by UnprivilegedContainerTests.
@Suite("Sandbox preflight")
struct PreflightTests {
    @Test("as root on the host every requirement is met and the scratch directories are removed")
    func rootPasses() throws {
        let dir = try Fixture.tempDir("preflight")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = StateDirectory(path: dir + "/state")
        let identity = try SandboxIdentity.detect()
        #expect(try SandboxPreflight.missing(identity: identity, state: state) == [])
        #expect(try Sandbox(state: state, identity: identity).preflight() == [])
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: state.runs)) ?? []
        #expect(runs.filter { !$0.hasPrefix(".") && !$0.hasSuffix(".lock") }.isEmpty, "\(runs)")
    }

    @Test("the failure names each missing requirement by its code")
    func failureNamesRequirements() {
        let f = SandboxPreflight.Failure(missing: [
            .init(requirement: .procMount, errno: EPERM), .init(requirement: .hostname, errno: EPERM)
        ])
        #expect(f.description == "missing: procMount, hostname")
        #expect(SandboxPreflight.Requirement.allCases.filter(\.degradesOnly) == [.overlay])
    }
}
