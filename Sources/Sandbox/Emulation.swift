import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// One binfmt_misc registration (`/proc/sys/fs/binfmt_misc/<name>`): a magic/mask over the first bytes of an
/// executable and the interpreter the kernel runs it with.
public struct BinfmtHandler: Sendable, Hashable {
    public var name: String
    public var enabled: Bool
    public var interpreter: String
    /// Registration flags (`F` fix-binary: the kernel opened the interpreter at registration, so it runs inside any
    /// mount namespace or chroot; `P` preserve argv0; `O` open-binary; `C` credentials).
    public var flags: Set<Character>
    public var offset: Int
    public var magic: [UInt8]
    public var mask: [UInt8]

    /// Parses the text of a handler file (`enabled`, `interpreter …`, `flags: …`, `offset …`, `magic …`, `mask …`).
    /// nil: not a magic-based handler (an extension-based one, or not a handler file).
    public init?(name: String, text: String) {
        var enabled: Bool?, interpreter = "", flags = Set<Character>(), offset = 0
        var magic: [UInt8]?, mask: [UInt8]?
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard let key = words.first else { continue }
            let value = words.count > 1 ? words[1] : ""
            switch key {
            case "enabled": enabled = true
            case "disabled": enabled = false
            case "interpreter": interpreter = value
            case "flags:": flags = Set(value)
            case "offset": offset = Int(value) ?? 0
            case "magic": magic = Self.hexBytes(value)
            case "mask": mask = Self.hexBytes(value)
            default: continue
            }
        }
        guard let enabled, let magic else { return nil }
        self.name = name
        self.enabled = enabled
        self.interpreter = interpreter
        self.flags = flags
        self.offset = offset
        self.magic = magic
        self.mask = mask ?? [UInt8](repeating: 0xff, count: magic.count)
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        let chars = Array(s.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: chars.count, by: 2) {
            guard let b = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }

    /// Whether the kernel would hand an executable starting with `header` to this handler.
    public func matches(_ header: [UInt8]) -> Bool {
        guard offset + magic.count <= header.count else { return false }
        for i in magic.indices where header[offset + i] & mask[i] != magic[i] & mask[i] { return false }
        return true
    }

    /// Runs inside the sandbox: `F` (the interpreter is already open), or its path exists in `rootfs`.
    public func usable(in rootfs: String?) -> Bool {
        guard enabled else { return false }
        if flags.contains("F") { return true }
        guard let rootfs else { return false }
        return access(rootfs + interpreter, X_OK) == 0
    }
}

/// Whether foreign-architecture executables can run in the sandbox through the host's binfmt_misc handlers, and how
/// to register them (`ociforge emulators enable`).
public struct Emulation: Sendable {
    /// The binfmt_misc directory read (`OCIFORGE_BINFMT_DIR` overrides it: tests point it at a directory
    /// without handlers to check the refusal).
    public var directory: String

    public init(directory: String? = nil) {
        self.directory =
            directory ?? ProcessInfo.processInfo.environment["OCIFORGE_BINFMT_DIR"] ?? "/proc/sys/fs/binfmt_misc"
    }

    /// The handlers registered in `directory` (an empty list when binfmt_misc is not mounted there).
    public func handlers() -> [BinfmtHandler] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().compactMap { n -> BinfmtHandler? in
            guard n != "register", n != "status",
                let d = FileManager.default.contents(atPath: directory + "/" + n)
            else { return nil }
            return BinfmtHandler(name: n, text: String(decoding: d, as: UTF8.self))
        }
    }

    /// Whether binfmt_misc is mounted at `directory` (its `register` file exists).
    public var mounted: Bool { FileManager.default.fileExists(atPath: directory + "/register") }

    /// The handler that runs `platform`'s executables in the sandbox (`rootfs`: where a non-`F` interpreter would
    /// have to exist), or an error saying how to get one. The host's own platform needs none.
    @discardableResult
    public func require(_ platform: Platform, rootfs: String? = nil) throws(SandboxError) -> BinfmtHandler? {
        if ELFMachine.sameExecutables(platform, Platform.host) { return nil }
        guard let elf = ELFMachine(platform) else {
            throw SandboxError(
                .invalidArgument,
                "cannot build for \(platform): no executable format known for architecture '\(platform.architecture)'; supported: \(ELFMachine.known.joined(separator: ", "))"
            )
        }
        let header = elf.header
        let matching = handlers().filter { $0.matches(header) }
        if let h = matching.first(where: { $0.usable(in: rootfs) }) { return h }
        let how = Self.howToEnable(platform)
        if !mounted {
            throw SandboxError(
                .emulation,
                "cannot build for \(platform) on this \(Platform.host) host: binfmt_misc is not mounted at \(directory), so \(platform.architecture) programs cannot run in the sandbox. \(how)"
            )
        }
        if let h = matching.first {
            let why =
                h.enabled
                ? "it lacks the fix-binary flag F (its interpreter \(h.interpreter) is not reachable inside the sandbox)"
                : "it is disabled"
            throw SandboxError(
                .emulation,
                "cannot build for \(platform): the binfmt_misc handler \(h.name) matches but \(why). \(how)",
                detail: directory + "/" + h.name)
        }
        throw SandboxError(
            .emulation,
            "cannot build for \(platform) on this \(Platform.host) host: no binfmt_misc handler for \(platform.architecture) executables is registered in \(directory). \(how)"
        )
    }

    /// The remedy named by every refusal.
    public static func howToEnable(_ platform: Platform) -> String {
        let q = ELFMachine(platform)?.qemuName ?? platform.architecture
        return
            "Install Debian's qemu-user-static (apt-get install qemu-user-static) and register its handler with the fix-binary flag: as root run `ociforge emulators enable \(platform.architecture)` (or scripts/install-deps), which mounts binfmt_misc and registers /usr/lib/binfmt.d/qemu-\(q).conf with flag F"
    }
}
