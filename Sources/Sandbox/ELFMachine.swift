import OCIWriter

/// The ELF identity of a platform's executables (class, byte order, `e_machine`) and the name of Debian's qemu
/// binfmt registration for it: what a binfmt_misc handler must match to run them.
public struct ELFMachine: Sendable, Hashable {
    public var is64Bit: Bool
    public var bigEndian: Bool
    public var machine: UInt16
    /// `/usr/lib/binfmt.d/qemu-<qemuName>.conf` (Debian's qemu-user-static).
    public var qemuName: String

    /// OCI (GOARCH) architecture → ELF identity.
    static let table: [String: ELFMachine] = [
        "amd64": ELFMachine(is64Bit: true, bigEndian: false, machine: 0x3e, qemuName: "x86_64"),
        "arm64": ELFMachine(is64Bit: true, bigEndian: false, machine: 0xb7, qemuName: "aarch64"),
        "arm": ELFMachine(is64Bit: false, bigEndian: false, machine: 0x28, qemuName: "arm"),
        "386": ELFMachine(is64Bit: false, bigEndian: false, machine: 0x03, qemuName: "i386"),
        "riscv64": ELFMachine(is64Bit: true, bigEndian: false, machine: 0xf3, qemuName: "riscv64"),
        "ppc64le": ELFMachine(is64Bit: true, bigEndian: false, machine: 0x15, qemuName: "ppc64le"),
        "s390x": ELFMachine(is64Bit: true, bigEndian: true, machine: 0x16, qemuName: "s390x")
    ]

    /// The architectures known here, sorted.
    public static var known: [String] { table.keys.sorted() }

    public init(is64Bit: Bool, bigEndian: Bool, machine: UInt16, qemuName: String) {
        self.is64Bit = is64Bit
        self.bigEndian = bigEndian
        self.machine = machine
        self.qemuName = qemuName
    }

    /// nil: an architecture without a known ELF identity.
    public init?(_ platform: Platform) {
        guard platform.os == "linux", let m = Self.table[platform.architecture] else { return nil }
        self = m
    }

    /// Whether `a` and `b` run the same executables (same OS and architecture; the variant does not matter here).
    public static func sameExecutables(_ a: Platform, _ b: Platform) -> Bool {
        a.os == b.os && a.architecture == b.architecture
    }

    /// The first 20 bytes of an executable (`ET_EXEC`) of this machine: what binfmt_misc matches against.
    public var header: [UInt8] {
        var h: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, is64Bit ? 2 : 1, bigEndian ? 2 : 1, 1]
        h += [UInt8](repeating: 0, count: 9)
        let type: UInt16 = 2
        for v in [type, machine] {
            let bytes = [UInt8(v & 0xff), UInt8(v >> 8)]
            h += bigEndian ? bytes.reversed() : bytes
        }
        return h
    }

    /// Debian's Architecture name (`dpkg --print-architecture`, `mmdebstrap --arch`) for an OCI platform.
    public static func debianArchitecture(_ platform: Platform) -> String? {
        switch (platform.architecture, platform.variant) {
        case ("amd64", _): return "amd64"
        case ("arm64", _): return "arm64"
        case ("arm", "v5"): return "armel"
        case ("arm", _): return "armhf"
        case ("386", _): return "i386"
        case ("riscv64", _): return "riscv64"
        case ("ppc64le", _): return "ppc64el"
        case ("s390x", _): return "s390x"
        default: return nil
        }
    }
}
