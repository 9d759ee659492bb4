import Testing

@testable import Sandbox

@Test func launcherLinked() { #expect(SandboxInfo.launcherVersion >= 1) }
