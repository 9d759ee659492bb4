import Foundation
import OCIWriter
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// A build for several platforms: every platform's handler checked before any work, one image per platform built
/// into a staging layout under the state directory, then all of them copied into the destination layout and tagged
/// as one OCI index (platforms in a fixed order). The tag moves to the index only when every platform is built, in
/// one atomic index.json update: a failure leaves the destination as it was.
enum MultiPlatformBuild {
    /// Sorted by os, architecture, variant (the index's order, whatever order the flag gave), duplicates removed.
    static func order(_ platforms: [Platform]) -> [Platform] {
        var seen = Set<String>()
        return platforms.sorted {
            ($0.os, $0.architecture, $0.variant ?? "") < ($1.os, $1.architecture, $1.variant ?? "")
        }.filter { seen.insert("\($0.os)/\($0.architecture)/\($0.variant ?? "")").inserted }
    }

    static func build(_ request: BuildRequest, runner: any PhaseRunner) throws -> BuildReport {
        let platforms = order(request.options.platforms)
        for p in platforms { try TargetPlatform.requireRunnable(forPlatform(request, p)) }
        if case .dockerArchive? = request.options.output {
            throw BuildEngineError(
                .unsupported,
                "a docker-archive holds one image per name, not an index of \(platforms.count) platforms: build to oci-layout:<dir> or docker://<ref>, or give one --platform"
            )
        }
        let destination = request.destination()
        try runner.state.prepare()
        // One staging layout per platform (a build owns its layout's index.json), in a locked run directory of the
        // state (so a concurrent cleanup leaves it alone), removed at the end whatever happens.
        let run: RunDirectory
        do { run = try runner.state.newRun() } catch {
            throw BuildEngineError(.cache, "cannot create a staging directory for the platforms' images", cause: error)
        }
        defer { run.remove() }
        let staging = run.path
        var built: [(Platform, BuildReport)] = []
        var methods: [BuildMethod] = []
        for p in platforms {
            var one = forPlatform(request, p)
            one.options.output = .ociLayout(path: staging + "/" + stagingTag(p), tag: "image")
            let method = TargetPlatform.method(one)
            request.options.emit(.message("building \(p) (\(method.rawValue))"))
            var (r, inputs) = try BuildEngine.image(one, runner: runner)
            // This platform's SBOM (its own dpkg status, lockfiles, toolchains) and provenance, as referrers of its
            // manifest in the staging layout; `writeIndex` carries them to the destination.
            r.reference = destination.reference
            try BuildEngine.attest(&r, inputs: inputs, options: one.options)
            built.append((p, r))
            methods.append(method)
        }
        let index = try writeIndex(built, staging: staging, destination: destination)
        return report(built, methods: methods, index: index, destination: destination)
    }

    /// `request` for `platform` alone: the engine's platform and the Dockerfile's (TARGETPLATFORM, TARGETARCH, …).
    static func forPlatform(_ request: BuildRequest, _ platform: Platform) -> BuildRequest {
        var one = request
        one.options.platforms = []
        one.options.platform = platform
        let name = "\(platform.os)/\(platform.architecture)" + (platform.variant.map { "/" + $0 } ?? "")
        switch request.source {
        case .app(let directory, let plan, var options):
            options.platform = name
            one.source = .app(directory: directory, plan: plan, planOptions: options)
        case .dockerfile(let path, let context, var options):
            options.platform = name
            one.source = .dockerfile(path: path, context: context, options: options)
        }
        return one
    }

    static func stagingTag(_ p: Platform) -> String {
        "platform-\(p.os)-\(p.architecture)" + (p.variant.map { "-" + $0 } ?? "")
    }

    /// Copies every platform's manifest, config and layers into the destination layout, writes the index blob and
    /// tags it (the one index.json update).
    static func writeIndex(_ built: [(Platform, BuildReport)], staging: String, destination: ImageDestination)
        throws -> Descriptor
    {
        let target =
            OCILayout.isLayout(destination.layoutPath)
            ? try OCILayout.open(at: destination.layoutPath) : try OCILayout.create(at: destination.layoutPath)
        var manifests: [Descriptor] = []
        for (p, r) in built {
            let source = try OCILayout.open(at: staging + "/" + stagingTag(p))
            let image = try source.resolve(tag: r.tag)
            for d in [image.manifest.value.config] + image.manifest.value.layers {
                try target.copyBlob(d, from: source)
            }
            let m = image.manifestDescriptor
            try target.copyBlob(m, from: source)
            for a in r.attestations { _ = try target.attach(try source.artifact(a)) }
            manifests.append(
                Descriptor(mediaType: m.mediaType, digest: m.digest, size: m.size, platform: m.platform ?? p))
        }
        let index = try target.writeBlob(
            bytes: try CanonicalJSON.encode(ImageIndex(manifests: manifests)), mediaType: .ociIndex)
        try target.tag(index, as: destination.tag)
        return index
    }

    /// One report for the index: its digest, every platform's steps (named `<platform> <stage>/<phase>`) and layers.
    static func report(
        _ built: [(Platform, BuildReport)], methods: [BuildMethod], index: Descriptor, destination: ImageDestination
    )
        -> BuildReport
    {
        var r = built[0].1
        r.reference = destination.reference
        r.layout = destination.layoutPath
        r.tag = destination.tag
        r.output = "oci-layout:\(destination.layoutPath):\(destination.tag)"
        r.manifestDigest = index.digest
        r.layers = built.flatMap { p, b in
            b.layers.map {
                var l = $0
                l.stage = "\(p) \(l.stage)"
                return l
            }
        }
        r.executed = built.flatMap { p, b in b.executed.map { "\(p) \($0)" } }
        r.cached = built.flatMap { p, b in b.cached.map { "\(p) \($0)" } }
        r.timings = built.flatMap { p, b in
            b.timings.map {
                var t = $0
                t.stage = "\(p) \(t.stage)"
                return t
            }
        }
        r.warnings = Array(Set(built.flatMap { $0.1.warnings })).sorted()
        r.attestations = built.flatMap { $0.1.attestations }
        r.imageSize = built.reduce(0) { $0 + $1.1.imageSize }
        r.imageUncompressedSize = built.reduce(0) { $0 + $1.1.imageUncompressedSize }
        r.platforms = zip(built, methods).map { PlatformBuild($0.0, method: $1, report: $0.1) }
        return r
    }
}
