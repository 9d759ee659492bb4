import Foundation
import Testing

/// `image unpack` with the default extraction limits and with `--max-*` flags, on a real Debian minbase image
/// (issue 16, bounded expansion: defaults a real base never meets; a lowered limit refuses it clearly).
@Suite(.timeLimit(.minutes(10)))
struct ExtractionLimitsCLITests {
    @Test func debianUnpacksWithDefaultsAndLoweredLimitsRefuseIt() throws {
        let rootfs = try DebianBase.minbaseRootfs()
        let tmp = try TempDir.make("limits-cli")
        defer { tmp.remove() }
        let layout = tmp.path + "/layout"
        try Harness.ok([
            Harness.ociforge, "image", "assemble", "--base", "scratch", "--layer-dir", rootfs,
            "--output", "oci-layout:\(layout):minbase"
        ])
        let index = try String(contentsOfFile: layout + "/index.json", encoding: .utf8)
        #expect(index.contains("minbase"))

        let ok = try Harness.run([Harness.ociforge, "image", "unpack", "oci-layout:\(layout):minbase", tmp.path + "/ok"]
        )
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(FileManager.default.fileExists(atPath: tmp.path + "/ok/usr/bin/dpkg"))

        let manifestOut = try Harness.ok([
            Harness.ociforge, "image", "inspect", "oci-layout:\(layout):minbase", "--json"
        ])
        let lowered: [(flags: [String], fragment: String)] = [
            (["--max-entries", "1000"], "entry count limit"),
            (["--max-layer-bytes", "8M"], "maxTotalBytes"),
            (["--max-image-bytes", "16M"], "maxImageBytes"),
            (["--max-path-length", "20"], "over the limit of 20")
        ]
        for (flags, fragment) in lowered {
            let dest = tmp.path + "/refused"
            let r = try Harness.run([Harness.ociforge, "image", "unpack", "oci-layout:\(layout):minbase", dest] + flags)
            #expect(r.status == 1, "\(flags): \(r.stderr)")
            #expect(r.stderr.contains(fragment), "\(flags): \(r.stderr)")
            // The error names the layer by digest (the only layer of the image).
            let digests = r.stderr.split(separator: " ").filter { $0.hasPrefix("sha256:") }
            #expect(
                digests.contains { manifestOut.contains($0.prefix(71)) }, "\(flags): no layer digest in \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dest))
            let siblings = try FileManager.default.contentsOfDirectory(atPath: tmp.path)
            #expect(!siblings.contains { $0.contains("ociforge-unpack") }, "\(flags): partial rootfs left: \(siblings)")
        }
        // `image verify` decompresses within the same limits: valid by default, a problem naming the layer when
        // a limit is lowered below it.
        let verified = try Harness.run([Harness.ociforge, "image", "verify", "oci-layout:\(layout):minbase"])
        #expect(verified.status == 0, "\(verified)")
        let capped = try Harness.run([
            Harness.ociforge, "image", "verify", "oci-layout:\(layout):minbase", "--max-layer-bytes", "8M"
        ])
        #expect(capped.status == 1, "\(capped)")
        #expect(capped.stdout.contains("maxTotalBytes"), "\(capped.stdout)")
        let named = capped.stdout.split(separator: " ").filter { $0.hasPrefix("sha256:") }
        #expect(named.contains { manifestOut.contains($0.prefix(71)) }, "no layer digest in \(capped.stdout)")

        let bad = try Harness.run([
            Harness.ociforge, "image", "unpack", "oci-layout:\(layout):minbase", tmp.path + "/x",
            "--max-layer-bytes", "12Q"
        ])
        #expect(bad.status == 64, "\(bad.stderr)")
    }
}
