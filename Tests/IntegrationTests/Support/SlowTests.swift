import Foundation
import Testing

/// Tests that take tens of minutes on a 2-core machine (arm64 builds whose compilers and package installs run under
/// qemu emulation, a fresh-state rebuild of every e2e fixture) run only with `OCIFORGE_SLOW_TESTS=1`;
/// `scripts/test` (CI) runs a quick subset of the same paths.
enum SlowTests {
    static let enabled = ProcessInfo.processInfo.environment["OCIFORGE_SLOW_TESTS"] == "1"
    static let reason: Comment =
        "set OCIFORGE_SLOW_TESTS=1 (tens of minutes: emulated arm64 builds or every e2e fixture)"
}
