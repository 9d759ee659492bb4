import Foundation
import OCIWriter
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The binfmt_misc check: the host's real registrations (scripts/install-deps registers Debian's qemu-aarch64 with
/// flag F) and copies of them in a scratch directory with the flag removed, disabled, or no handler at all.
@Suite("Emulation")
struct EmulationTests {
    static let arm64 = Platform(architecture: "arm64", os: "linux")
    static let proc = "/proc/sys/fs/binfmt_misc"

    /// A scratch directory holding `handler`'s file text edited by `edit` (nil: no handler), plus `register`.
    static func scratch(_ handler: String?, edit: (String) -> String = { $0 }) throws -> String {
        let d = try Fixture.tempDir("binfmt")
        FileManager.default.createFile(atPath: d + "/register", contents: Data())
        if let handler {
            let text = try String(contentsOfFile: proc + "/" + handler, encoding: .utf8)
            FileManager.default.createFile(atPath: d + "/" + handler, contents: Data(edit(text).utf8))
        }
        return d
    }

    @Test("the host's qemu-aarch64 registration runs arm64 executables in the sandbox (flag F)")
    func hostHandler() throws {
        let h = try #require(try Emulation(directory: Self.proc).require(Self.arm64))
        #expect(h.flags.contains("F"))
        #expect(h.enabled)
        #expect(h.matches(ELFMachine(Self.arm64)!.header))
        #expect(!h.matches(ELFMachine(Platform(architecture: "amd64", os: "linux"))!.header))
        #expect(try Emulation(directory: Self.proc).require(Platform.host) == nil, "the host needs no handler")
    }

    @Test("the amd64 header the check builds matches the first bytes of the host's own executables")
    func headerMatchesRealELF() throws {
        let fd = open("/bin/sh", O_RDONLY)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 20)
        #expect(read(fd, &bytes, 20) == 20)
        let ours = ELFMachine(Platform(architecture: "amd64", os: "linux"))!.header
        #expect(Array(ours[0..<7]) == Array(bytes[0..<7]), "magic, class, byte order, version")
        #expect(Array(ours[18..<20]) == Array(bytes[18..<20]), "e_machine")
    }

    @Test("no handler, no F flag, disabled: refused with how to enable it")
    func refusals() throws {
        let empty = try Self.scratch(nil)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let e1 = #expect(throws: SandboxError.self) { try Emulation(directory: empty).require(Self.arm64) }
        #expect(e1?.code == .emulation)
        #expect(e1?.message.contains("no binfmt_misc handler for arm64") == true, "\(String(describing: e1))")
        #expect(e1?.message.contains("qemu-user-static") == true)
        #expect(e1?.message.contains("ociforge emulators enable arm64") == true)

        let noF = try Self.scratch("qemu-aarch64") { $0.replacingOccurrences(of: "F\n", with: "\n") }
        defer { try? FileManager.default.removeItem(atPath: noF) }
        let e2 = #expect(throws: SandboxError.self) { try Emulation(directory: noF).require(Self.arm64) }
        #expect(e2?.message.contains("lacks the fix-binary flag F") == true, "\(String(describing: e2))")
        #expect(
            try Emulation(directory: noF).require(Self.arm64, rootfs: "/") != nil,
            "without F the interpreter is usable when it exists inside the rootfs (here the host's)")

        let off = try Self.scratch("qemu-aarch64") { $0.replacingOccurrences(of: "enabled\n", with: "disabled\n") }
        defer { try? FileManager.default.removeItem(atPath: off) }
        let e3 = #expect(throws: SandboxError.self) { try Emulation(directory: off).require(Self.arm64) }
        #expect(e3?.message.contains("is disabled") == true, "\(String(describing: e3))")

        let unmounted = #expect(throws: SandboxError.self) {
            try Emulation(directory: empty + "/none").require(Self.arm64)
        }
        #expect(unmounted?.message.contains("binfmt_misc is not mounted") == true)
    }

    @Test("an unknown architecture is refused by name")
    func unknownArchitecture() {
        let e = #expect(throws: SandboxError.self) {
            try Emulation(directory: Self.proc).require(Platform(architecture: "vax", os: "linux"))
        }
        #expect(e?.code == .invalidArgument)
        #expect(e?.message.contains("'vax'") == true)
    }

    @Test("Debian's registration line gains the F flag once")
    func fixBinaryRule() {
        let conf = ":qemu-aarch64:M::\\x7f\\x45:\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OP\n"
        #expect(
            Emulation.fixBinaryRule(conf)
                == ":qemu-aarch64:M::\\x7f\\x45:\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF")
        #expect(Emulation.fixBinaryRule(":a:M::\\x7f:\\xff:/x:OPF") == ":a:M::\\x7f:\\xff:/x:OPF")
        #expect(Emulation.fixBinaryRule("# comment only\n") == nil)
    }
}
