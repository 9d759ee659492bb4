/// Carries the referrers of an image from one store to another (`image copy --with-referrers`).
public enum ReferrerTransfer {
    /// Copies every referrer of `subject` found in `source` to `target`, then (down to `depth` levels) the
    /// referrers of those referrers (a signature of an SBOM, …). Artifacts are copied byte for byte, so their
    /// digests stay the same. Returns the descriptors copied, in the order they were written.
    @discardableResult
    public static func copy(
        subject: Digest, from source: ReferrerStore, to target: ReferrerStore,
        depth: Int = 3
    ) async throws -> [Descriptor] {
        var copied: [Descriptor] = []
        var seen = Set<Digest>()
        var frontier = [subject]
        for _ in 0..<max(1, depth) where !frontier.isEmpty {
            var next: [Digest] = []
            for s in frontier {
                for d in try await source.listReferrers(of: s, artifactType: nil).referrers
                where seen.insert(d.digest).inserted {
                    guard d.mediaType.isManifest else { continue }  // an index as referrer: not produced by ociforge
                    let artifact = try await source.readArtifact(d)
                    try await target.attachArtifact(artifact)
                    copied.append(artifact.descriptor)
                    next.append(d.digest)
                }
            }
            frontier = next
        }
        return copied
    }
}
