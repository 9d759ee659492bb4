import Foundation
import Planner

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
}
