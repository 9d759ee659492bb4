import Foundation
import OCIWriter
import Sandbox
import SupplyChain
import Testing

@testable import BuildEngine

/// The engine's supply-chain step with `FakePhaseRunner`: SBOM and provenance attached to the image in its layout,
/// deterministic, without secret values; the source digest; `verifyRebuild` against the recorded provenance.
@Suite(.serialized) struct AttestationEngineTests {
    /// The first layer of an artifact in a layout.
    static func artifactText(_ layout: String, _ d: Descriptor) throws -> String {
        let artifact = try OCILayout.open(at: layout).artifact(d)
        let layer = try #require(artifact.manifest.value.layers.first)
        return String(decoding: try #require(artifact.blobs[layer.digest]), as: UTF8.self)
    }

    @Test("plan build: SPDX + provenance in the layout, lockfile packages from /app, no secret value, deterministic")
    func planBuildAttests() throws {
        let w = try EngineTests.Workspace()
        defer { w.root.remove() }
        try w.root.write(
            "app/package-lock.json",
            #"{"lockfileVersion":3,"packages":{"":{"name":"x"},"node_modules/express":{"version":"4.19.2"}}}"#)
        let runner = FakePhaseRunner(state: w.state, effect: EngineTests.effect)
        let secret = "hunter2-\(UInt32.random(in: 0...UInt32.max))"
        func build(_ layout: String, cache: String) throws -> BuildReport {
            var r = try w.request(buildCmd: "make all", output: .ociLayout(path: layout, tag: "v1"))
            r.options.secrets = [Secret(id: "TOKEN", value: secret)]
            r.options.cacheDirectory = cache
            return try BuildEngine.buildBlocking(r, runner: runner)
        }
        let first = try build(w.root.path + "/a/out", cache: w.root.path + "/cache-a")
        #expect(first.attestations.map(\.artifactType) == [.spdxJSON, .inTotoJSON])
        let listed = try OCILayout.open(at: first.layout).referrers(of: first.manifestDigest).referrers
        #expect(Set(listed.map(\.digest)) == Set(first.attestations.map(\.digest)))
        let sbom = try Self.artifactText(first.layout, first.attestations[0])
        #expect(sbom.contains("pkg:npm/express@4.19.2"))
        let provenance = try Self.artifactText(first.layout, first.attestations[1])
        #expect(!provenance.contains(secret) && provenance.contains(#""secrets":["TOKEN"]"#))
        #expect(provenance.contains(#""name":"base:build""#) && provenance.contains(#""name":"source""#))
        #expect(provenance.contains(#""planDigest":"sha256:"#))
        #expect(!provenance.contains(w.root.path + "/a/out") && !provenance.contains("cache-a"))

        // A clean build elsewhere (other cache, other output directory): the same attestation bytes.
        let second = try build(w.root.path + "/b/out", cache: w.root.path + "/cache-b")
        #expect(second.manifestDigest == first.manifestDigest)
        #expect(second.attestations.map(\.digest) == first.attestations.map(\.digest))
    }

    @Test("--sbom none --no-provenance attaches nothing; CycloneDX alone on request")
    func formatsAndNone() throws {
        let w = try EngineTests.Workspace()
        defer { w.root.remove() }
        let runner = FakePhaseRunner(state: w.state, effect: EngineTests.effect)
        var none = try w.request(output: .ociLayout(path: w.root.path + "/none", tag: "v1"))
        none.options.attestations = AttestationOptions(sbomFormats: [], provenance: false)
        let bare = try BuildEngine.buildBlocking(none, runner: runner)
        #expect(bare.attestations.isEmpty)
        #expect(try OCILayout.open(at: bare.layout).referrers(of: bare.manifestDigest).referrers.isEmpty)
        var cdx = try w.request(output: .ociLayout(path: w.root.path + "/cdx", tag: "v1"))
        cdx.options.attestations = AttestationOptions(sbomFormats: [.cyclonedx], provenance: false)
        #expect(try BuildEngine.buildBlocking(cdx, runner: runner).attestations.map(\.artifactType) == [.cycloneDXJSON])
    }

    @Test("--sign-key needs a registry output: refused before any step runs")
    func signingNeedsRegistry() throws {
        let w = try EngineTests.Workspace()
        defer { w.root.remove() }
        let runner = FakePhaseRunner(state: w.state, effect: EngineTests.effect)
        var r = try w.request()
        r.options.attestations.signingKey = try SigningKey.generate()
        #expect {
            try BuildEngine.buildBlocking(r, runner: runner)
        } throws: { e in
            (e as? BuildEngineError)?.code == .unsupported && "\(e)".contains("--sign-key")
        }
        #expect(runner.phases.isEmpty && !FileManager.default.fileExists(atPath: w.layout))
    }

    @Test("source digest: independent of location and times; changed by content, executable bit and file set")
    func sourceDigest() throws {
        let a = try Scratch("srcdigest-a"), b = try Scratch("srcdigest-b")
        defer {
            a.remove()
            b.remove()
        }
        for s in [a, b] {
            try s.write("x/run.sh", "echo\n", mode: 0o755)
            try s.write("data.txt", "one\n")
        }
        var times = [timespec(tv_sec: 1, tv_nsec: 0), timespec(tv_sec: 1, tv_nsec: 0)]
        utimensat(AT_FDCWD, b.path + "/data.txt", &times, 0)
        let files = ["data.txt", "x/run.sh"]
        let da = try SourceDigest.of(directory: a.path, files: files)
        #expect(try SourceDigest.of(directory: b.path, files: files.reversed()) == da)
        chmod(b.path + "/x/run.sh", 0o644)
        #expect(try SourceDigest.of(directory: b.path, files: files) != da)
        #expect(try SourceDigest.of(directory: a.path, files: ["data.txt"]) != da)
        try a.write("data.txt", "two\n")
        #expect(try SourceDigest.of(directory: a.path, files: files) != da)
    }

    @Test("verifyRebuild: equal for the unchanged app; the differing file after an edit; no provenance is an error")
    func verifyRebuild() throws {
        let w = try EngineTests.Workspace()
        defer { w.root.remove() }
        let runner = FakePhaseRunner(state: w.state, effect: EngineTests.effect)
        let built = try BuildEngine.buildBlocking(try w.request(), runner: runner)
        let check = RebuildCheckRequest(
            image: .ociLayout(path: w.layout, tag: "v1"), directory: w.app, options: .init())
        let same = try BuildEngine.verifyRebuild(check, runner: runner)
        #expect(same.equal && same.comparison.secondManifest == built.manifestDigest)
        #expect(same.recordedSource == same.currentSource)

        try w.root.write("app/data/a.txt", "changed\n")
        let changed = try BuildEngine.verifyRebuild(check, runner: runner)
        #expect(!changed.equal && changed.recordedSource != changed.currentSource)
        let files = changed.comparison.layers.filter { !$0.equal }.flatMap(\.files).map(\.path)
        #expect(files.contains("app/data/a.txt"), "\(files)")

        var bare = try w.request(output: .ociLayout(path: w.root.path + "/bare", tag: "v1"))
        bare.options.attestations = AttestationOptions(sbomFormats: [], provenance: false)
        _ = try BuildEngine.buildBlocking(bare, runner: runner)
        #expect {
            try BuildEngine.verifyRebuild(
                RebuildCheckRequest(
                    image: .ociLayout(path: w.root.path + "/bare", tag: "v1"), directory: w.app, options: .init()),
                runner: runner)
        } throws: { e in
            (e as? BuildEngineError)?.code == .invalidInput && "\(e)".contains("has no provenance statement attached")
        }
    }
}
