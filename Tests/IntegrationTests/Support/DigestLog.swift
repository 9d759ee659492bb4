import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Before/after byte checks for refactors: when `OCIFORGE_TEST_DIGEST_LOG` names a file, every build made by the
/// end-to-end and Dockerfile conformance helpers appends one line `<label>\t<manifest digest>` to it, the label
/// naming the test and the build (not temp paths). Run the same tests on two commits and compare the sorted files:
/// `OCIFORGE_TEST_DIGEST_LOG=/tmp/a.txt swift test --skip-build --filter 'BuildEndToEndTests|DockerfileConformance'`.
enum DigestLog {
    static func record(_ label: String, _ digest: String) {
        guard let path = ProcessInfo.processInfo.environment["OCIFORGE_TEST_DIGEST_LOG"], !path.isEmpty else { return }
        let test = Test.current?.name ?? "?"
        let line = "\(test) | \(label)\t\(digest)\n"
        // O_APPEND writes of one short line are atomic, so parallel tests do not interleave.
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = line.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
    }
}
