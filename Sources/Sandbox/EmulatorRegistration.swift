import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

extension Emulation {
    /// Debian's qemu-user-static registrations (`/usr/lib/binfmt.d/qemu-<name>.conf`).
    public static let registrationDirectory = "/usr/lib/binfmt.d"

    /// Root only: mounts binfmt_misc at `directory` when needed and registers Debian's qemu handler for `platform`
    /// with the fix-binary flag `F` (replacing a registration of the same name without it). Idempotent; returns the
    /// handler now registered.
    @discardableResult
    public func enable(_ platform: Platform) throws(SandboxError) -> BinfmtHandler? {
        if ELFMachine.sameExecutables(platform, Platform.host) { return nil }
        guard let elf = ELFMachine(platform) else { return try require(platform) }
        if let h = try? require(platform) { return h }
        guard getuid() == 0 else {
            throw SandboxError(
                .emulation,
                "registering a binfmt_misc handler needs root: run `sudo ociforge emulators enable \(platform.architecture)`"
            )
        }
        if !mounted, mount("binfmt_misc", directory, "binfmt_misc", 0, nil) != 0 {
            throw SandboxError(.emulation, "cannot mount binfmt_misc", errno: errno, detail: directory)
        }
        let conf = Self.registrationDirectory + "/qemu-\(elf.qemuName).conf"
        guard let text = FileManager.default.contents(atPath: conf).map({ String(decoding: $0, as: UTF8.self) }),
            let rule = Self.fixBinaryRule(text)
        else {
            throw SandboxError(
                .emulation,
                "no qemu registration for \(platform.architecture): install qemu-user-static (apt-get install qemu-user-static)",
                detail: conf)
        }
        let name = String(rule.dropFirst().prefix { $0 != ":" })
        if FileManager.default.fileExists(atPath: directory + "/" + name) {
            try write("-1", to: directory + "/" + name)  // unregister the one without F
        }
        try write(rule, to: directory + "/register")
        return try require(platform)
    }

    /// A registration line (`:name:type:offset:magic:mask:interpreter:flags`) with `F` among its flags.
    static func fixBinaryRule(_ text: String) -> String? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(":") }) else { return nil }
        var fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 8 else { return nil }
        if !fields[7].contains("F") { fields[7] += "F" }
        return fields.joined(separator: ":")
    }

    private func write(_ s: String, to path: String) throws(SandboxError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SandboxError(.emulation, "cannot open", errno: errno, detail: path) }
        defer { close(fd) }
        let bytes = Array(s.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else {
            throw SandboxError(
                .emulation, "binfmt_misc refused the registration", errno: errno, detail: path + ": " + s)
        }
    }
}
