import ArgumentParser
import Foundation
import OCIWriter

extension ImageCommand {
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff",
            abstract: "Compare two images layer by layer and name the files that differ (reproducibility checks).",
            discussion:
                "Exit 0 when the manifests are identical, 1 otherwise. For each layer whose digest differs, every differing entry is listed with what differs (content, mtime, mode, uid, gid, size, link, xattrs, type) or on which side it exists only."
        )

        @Argument(help: "oci-layout:<path>[:tag]")
        var first: String

        @Argument(help: "oci-layout:<path>[:tag]")
        var second: String

        @OptionGroup var platforms: PlatformChoice

        @Flag(help: "Print the comparison as JSON.")
        var json = false

        func run() throws {
            try reportingErrors {
                let platform = try platforms.chosenPlatform()
                let a = try parseLayoutReference(first, flag: "first"),
                    b = try parseLayoutReference(second, flag: "second")
                let c = try ImageComparison.compare(
                    try OCILayout.open(at: a.path).resolve(tag: a.tag, platform: platform),
                    try OCILayout.open(at: b.path).resolve(tag: b.tag, platform: platform))
                if json {
                    print(String(decoding: try CanonicalJSON.encode(c), as: UTF8.self))
                } else {
                    printComparison(c)
                }
                if !c.equal { throw ExitCode(1) }
            }
        }
    }
}

/// A comparison as text: equal, or the differing layers with each differing file and what differs.
func printComparison(_ c: ImageComparison) {
    print(
        c.equal
            ? "equal: \(c.firstManifest)"
            : "differ: \(c.firstManifest) vs \(c.secondManifest)\(c.configEqual ? "" : " (configs differ)")")
    for l in c.layers {
        print(
            "layer \(l.index): "
                + (l.equal
                    ? "equal \(l.first!)"
                    : "differs \(l.first?.string ?? "(none)") vs \(l.second?.string ?? "(none)")"))
        for f in l.files { print("  \(f.path): \(f.what.joined(separator: ", "))") }
    }
}
