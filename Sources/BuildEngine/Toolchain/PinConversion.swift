import Foundation
import OCIWriter
import Planner
import Toolchains

extension Toolchains.ToolchainPin {
    /// What the plan records: version, platform, the first archive's URL and sha256, and every archive with its
    /// size (enough to install again without any index).
    var planPin: PlanPin {
        PlanPin(
            version: version, url: url, digest: digest?.string ?? "", platform: platform.rawValue,
            artifacts: artifacts.map {
                PinnedArchive(
                    component: $0.component, url: $0.url, format: $0.format.rawValue, digest: $0.digest.string,
                    size: $0.size)
            })
    }

    /// The installable pin of the plan's record for `tool` (`flavor`: the runtime-only build of a runtime pin).
    /// A record without archive sizes and formats (hand-written) cannot be installed without its index: refused.
    init(plan pin: PlanPin, tool: ToolKind, flavor: ToolchainFlavor, field: String) throws(BuildEngineError) {
        guard let platform = Toolchains.Platform(rawValue: pin.platform) else {
            throw BuildEngineError(.invalidInput, "\(field).platform \(pin.platform) is not linux/amd64 or linux/arm64")
        }
        guard let archives = pin.artifacts, !archives.isEmpty else {
            throw BuildEngineError(
                .invalidInput,
                "\(field) has no `artifacts` (archive sizes and formats): write the pin with `ociforge freeze`")
        }
        var out: [PinnedArtifact] = []
        for a in archives {
            guard let format = ArchiveFormat(rawValue: a.format), let digest = try? Digest(a.digest), a.size > 0
            else {
                throw BuildEngineError(
                    .invalidInput,
                    "\(field).artifacts: \(a.component) needs format tar.gz/tar.xz/zip, a sha256 digest and a size")
            }
            out.append(PinnedArtifact(component: a.component, url: a.url, format: format, digest: digest, size: a.size))
        }
        self.init(tool: tool, version: pin.version, platform: platform, artifacts: out, flavor: flavor)
    }
}
