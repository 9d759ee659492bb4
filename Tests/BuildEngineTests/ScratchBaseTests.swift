import Foundation
import Testing

@testable import BuildEngine
@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The `scratch` runtime base: exec-form start commands and the generated /etc, CA bundle and zoneinfo.
@Suite struct ScratchBaseTests {
    @Test("start command in exec form: ./x under the working directory, shell syntax refused")
    func execForm() throws {
        #expect(try ImageBuilder.execForm("./out", workingDirectory: "/app", base: "scratch") == ["/app/out"])
        #expect(
            try ImageBuilder.execForm("/usr/local/bin/srv  --port 8080\t-v", workingDirectory: "/app", base: "scratch")
                == ["/usr/local/bin/srv", "--port", "8080", "-v"])
        for bad in ["./out && echo", "./out $PORT", "FOO=1 ./out", "./out > log", "  "] {
            #expect(throws: BuildEngineError.self, "\(bad)") {
                try ImageBuilder.execForm(bad, workingDirectory: "/app", base: "scratch")
            }
        }
    }

    @Test(
        "scratch tree: passwd/group with the start user, CA bundle and zoneinfo taken from the upper tree over the base"
    )
    func tree() throws {
        let dir = "/tmp/ociforge-scratch-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/base/usr/share/zoneinfo/Etc", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/upper/etc/ssl/certs", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/base/usr/bin", withIntermediateDirectories: true)
        try "utc".write(toFile: dir + "/base/usr/share/zoneinfo/Etc/UTC", atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: dir + "/base/usr/share/zoneinfo/UTC", withDestinationPath: "Etc/UTC")
        try "go".write(toFile: dir + "/base/usr/bin/go", atomically: false, encoding: .utf8)
        try "PEM".write(toFile: dir + "/upper/etc/ssl/certs/ca-certificates.crt", atomically: false, encoding: .utf8)
        try ImageBuilder.writeScratchTree(dir + "/out", user: "app", trees: [dir + "/base", dir + "/upper"])
        let passwd = try String(contentsOfFile: dir + "/out/etc/passwd", encoding: .utf8)
        #expect(passwd.contains("\napp:x:999:999::/home/app:/sbin/nologin\n"))
        #expect(try String(contentsOfFile: dir + "/out/etc/group", encoding: .utf8).contains("\napp:x:999:\n"))
        #expect(try String(contentsOfFile: dir + "/out/etc/ssl/certs/ca-certificates.crt", encoding: .utf8) == "PEM")
        #expect(try fm.destinationOfSymbolicLink(atPath: dir + "/out/usr/share/zoneinfo/UTC") == "Etc/UTC")
        #expect(try String(contentsOfFile: dir + "/out/usr/share/zoneinfo/Etc/UTC", encoding: .utf8) == "utc")
        #expect(fm.fileExists(atPath: dir + "/out/home/app"))
        #expect(!fm.fileExists(atPath: dir + "/out/usr/bin"))
        var st = stat()
        #expect(lstat(dir + "/out/tmp", &st) == 0 && st.st_mode & 0o7777 == 0o1777)
    }
}
