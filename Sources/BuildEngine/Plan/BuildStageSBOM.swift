import Foundation
import SupplyChain

extension BuildStage {
    /// The build stage's Debian packages for `--sbom-build-stage`: its dpkg status and os-release as the merged
    /// stack shows them (the base rootfs, then each layer's tree: upper layers win, whiteouts remove).
    func debianPackages() throws(BuildEngineError) -> [SBOMPackage] {
        if let missing = stack.dropFirst().first(where: { $0.layer != nil && $0.tree == nil }) {
            throw BuildEngineError(
                .attestation,
                "the build stage's layer '\(missing.phase)' is not unpacked on this machine (it came from a registry cache), so its SBOM cannot be read: build without --sbom-build-stage, or with --no-cache"
            )
        }
        guard let status = try mergedFile("var/lib/dpkg/status") else { return [] }
        var osRelease = try mergedFile("usr/lib/os-release")
        if osRelease == nil { osRelease = try mergedFile("etc/os-release") }
        return ImageSBOM.dpkgPackages(status: status, osRelease: osRelease)
    }

    /// The bytes of `relative` as the top of the stack shows it; nil when no layer has it.
    func mergedFile(_ relative: String) throws(BuildEngineError) -> [UInt8]? {
        var view: [String: String] = [:]
        do {
            for tree in [rootfs] + stack.compactMap(\.tree) {
                try MergedView.overlay(tree: tree, relative: relative, into: &view)
            }
        } catch {
            throw BuildEngineError(.attestation, "cannot read the build stage's /\(relative)", cause: error)
        }
        guard let host = view[relative] else { return nil }
        guard let data = FileManager.default.contents(atPath: host) else {
            throw BuildEngineError(.attestation, "cannot read the build stage's /\(relative) at \(host)")
        }
        return Array(data)
    }
}
