import Foundation
import Planner
import SupplyChain

/// What a build consumed, for its provenance and SBOM: the resolved plan and/or Dockerfile and where its files
/// came from.
struct BuildInputs: Sendable {
    /// The app's plan (nil for a Dockerfile built on its own).
    var plan: ResolvedPlan?
    /// The Dockerfile as executed (evaluated against its bases) and its file (nil for a plan build).
    var dockerfile: ResolvedDockerfile?
    var dockerfilePath: String?
    /// The app directory (plan) or the build context (Dockerfile), absolute.
    var directory: String
    /// The files of `directory` the build read (relative, sorted).
    var files: [String]
    /// The build stage's Debian packages, read when `--sbom-build-stage` asks for its SBOM (nil otherwise).
    var buildStagePackages: [SBOMPackage]? = nil
}
