import Foundation
import OCIWriter
import Testing

@testable import SupplyChain

@Suite("Build attestations")
struct BuildAttestationsTests {
    /// A layout holding a one-layer image whose only content is a dpkg status and an os-release.
    static func image(_ dir: Scratch) throws -> OCILayout {
        let root = dir.path + "/root"
        try FileManager.default.createDirectory(atPath: root + "/var/lib/dpkg", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try
            "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\nPackage: nodejs-build-only\nStatus: purge ok not-installed\nVersion: 1\n"
            .write(toFile: root + "/var/lib/dpkg/status", atomically: true, encoding: .utf8)
        try "ID=debian\nVERSION_ID=\"12\"\n".write(toFile: root + "/etc/os-release", atomically: true, encoding: .utf8)
        let (st, out) = try run([
            "tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-C", root, "-cf", dir.path + "/l.tar", "var",
            "etc"
        ])
        #expect(st == 0, "\(out)")
        let tar = Array(try Data(contentsOf: URL(fileURLWithPath: dir.path + "/l.tar")))
        let layout = try OCILayout.create(at: dir.path + "/layout")
        let layer = try layout.writeBlob(bytes: tar, mediaType: .ociLayer)
        let config = try layout.writeBlob(
            document: try EncodedDocument(ImageConfig(platform: .host, rootfs: RootFS(diffIDs: [Digest.of(tar)]))),
            mediaType: .ociConfig)
        let manifest = try layout.writeBlob(
            document: try EncodedDocument(Manifest(config: config, layers: [layer])), mediaType: .ociManifest)
        try layout.tag(manifest, as: "v1")
        return layout
    }

    @Test("SBOMs and provenance attached beside the image; identical on a second run; no secret inside")
    func attach() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let layout = try Self.image(dir)
        let request = BuildAttestationRequest(
            layout: layout, tag: "v1", imageName: "registry.example/app:v1", sourceDateEpoch: 1_700_000_000,
            formats: [.spdx, .cyclonedx],
            lockfiles: [.init(path: "/app/requirements.txt", text: "flask==3.0.3\n")],
            toolchains: [
                .toolchain(
                    name: "python", version: "3.12.6", url: "https://example.invalid/python.tar.gz",
                    sha256: String(repeating: "c", count: 64))
            ],
            provenance: .init(
                externalParameters: .object(["args": .object(["TOKEN": .string("hunter2")])]),
                resolvedDependencies: [
                    .init(uri: "pkg:docker/debian@bookworm", digest: ["sha256": String(repeating: "d", count: 64)])
                ],
                secretKeys: [], secretValues: ["hunter2"]))
        let first = try BuildAttestations.attach(request)
        #expect(first.map(\.artifactType) == [.spdxJSON, .cycloneDXJSON, .inTotoJSON])
        let second = try BuildAttestations.attach(request)
        #expect(second.map(\.digest) == first.map(\.digest))
        let image = try layout.resolve(tag: "v1")
        let listed = try layout.referrers(of: image.manifestDescriptor.digest).referrers
        #expect(listed.map(\.digest) == first.map(\.digest))  // attaching again adds no entries
        let spdx = String(decoding: try layout.artifact(listed[0]).payload()!, as: UTF8.self)
        #expect(spdx.contains("pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12"))
        #expect(spdx.contains("pkg:pypi/flask@3.0.3") && spdx.contains("\"name\":\"python\""))
        #expect(!spdx.contains("nodejs-build-only"))
        for d in listed {
            #expect(!String(decoding: try layout.artifact(d).payload()!, as: UTF8.self).contains("hunter2"))
        }
    }
}
