import ArgumentParser
import OCIWriter
import Sandbox

/// `--max-*` flags bounding how far a layer may decompress, shared by every command that decompresses layers:
/// `image verify` and, through `ExtractionLimitFlags`, every command that unpacks them. Unset flags keep the
/// `ExtractionLimits` defaults (documented in docs/hardening.md).
struct DecompressionLimitFlags: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Uncompressed bytes one layer may produce (default 64 GiB; suffixes K, M, G, T).",
            valueName: "size"))
    var maxLayerBytes: ByteCount?

    @Option(
        help: ArgumentHelp(
            "Uncompressed bytes all layers of an image may produce (default 256 GiB).", valueName: "size"))
    var maxImageBytes: ByteCount?

    @Option(
        help: ArgumentHelp(
            "Uncompressed bytes per compressed byte a layer may reach once past 256 MiB (default 200).",
            valueName: "ratio"))
    var maxExpansionRatio: UInt64?

    /// The defaults with the flags given applied.
    var limits: ExtractionLimits {
        var l = ExtractionLimits()
        if let maxLayerBytes { l.maxTotalBytes = maxLayerBytes.bytes }
        if let maxImageBytes { l.maxImageBytes = maxImageBytes.bytes }
        if let maxExpansionRatio { l.maxExpansionRatio = maxExpansionRatio }
        return l
    }

    func validate() throws {
        if let maxExpansionRatio, maxExpansionRatio == 0 {
            throw ValidationError("--max-expansion-ratio must be positive")
        }
    }
}

/// `--max-*` flags bounding layer extraction (decompression bombs, entry floods), shared by every command that
/// unpacks layers: `image unpack`, `build`, `dockerfile build`, `sandbox run`/`diff`. Unset flags keep the
/// `ExtractionLimits` defaults (documented in docs/hardening.md).
struct ExtractionLimitFlags: ParsableArguments {
    @OptionGroup var decompression: DecompressionLimitFlags

    @Option(help: ArgumentHelp("Tar entries in one layer (default 10000000).", valueName: "count"))
    var maxEntries: Int?

    @Option(help: ArgumentHelp("Bytes of an entry name or link target (default 4096).", valueName: "bytes"))
    var maxPathLength: Int?

    @Option(help: ArgumentHelp("Bytes of one entry's extended attributes (default 65536).", valueName: "bytes"))
    var maxXattrBytes: Int?

    var limits: ExtractionLimits {
        var l = decompression.limits
        if let maxEntries { l.maxEntries = maxEntries }
        if let maxPathLength {
            l.maxPathLength = maxPathLength
            l.maxLinkTargetLength = maxPathLength
        }
        if let maxXattrBytes { l.maxXattrBytes = maxXattrBytes }
        return l
    }

    /// The default state directory, unpacking bases under these limits.
    var stateDirectory: StateDirectory {
        var state = StateDirectory.default()
        state.extractionLimits = limits
        return state
    }

    func validate() throws {
        for (flag, v) in [
            ("--max-entries", maxEntries), ("--max-path-length", maxPathLength), ("--max-xattr-bytes", maxXattrBytes)
        ] {
            if let v, v <= 0 { throw ValidationError("\(flag) must be positive") }
        }
    }
}

/// A byte count with an optional binary suffix: `512`, `64K`, `300M`, `2G`, `1T` (powers of 1024).
struct ByteCount: ExpressibleByArgument, Sendable {
    let bytes: UInt64

    init?(argument: String) {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(argument)
        var unit: UInt64 = 1
        if let last = digits.last?.uppercased().first, let u = units[last] {
            unit = u
            digits = digits.dropLast()
        }
        guard let n = UInt64(digits), n > 0 else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: unit)
        if overflow { return nil }
        bytes = v
    }
}
