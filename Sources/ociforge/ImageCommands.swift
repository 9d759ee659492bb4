import ArgumentParser
import Foundation
import OCIWriter

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Assemble, inspect, verify, unpack and transfer OCI images.",
        subcommands: [
            Assemble.self, Inspect.self, ImageVerifyCommand.self, Unpack.self, ImagePullWithReferrers.self,
            ImagePush.self,
            ImageCopyWithReferrers.self, Referrers.self, Attach.self, Sign.self, SBOM.self, Diff.self
        ])
}

extension ImageCommand {
    struct Assemble: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Assemble an image from directories onto a base, with no build step.",
            discussion: """
                Each --layer-dir becomes one deterministic layer (entries sorted, numeric owners, mtimes clamped to
                SOURCE_DATE_EPOCH when set). The manifest digest is printed on standard output.

                Example:
                  ociforge image assemble --base scratch --layer-dir app:/app --cmd '["/app/run"]' \\
                    --output oci-layout:out/app:latest
                """)

        @Option(help: "Base image: oci-layout:<path>[:tag] or scratch.")
        var base: String = "scratch"

        @Option(
            help: "Platform os/arch[/variant] of a scratch image, or the one to pick from a base index (default: host)."
        )
        var platform: String?

        @Option(
            name: .customLong("layer-dir"),
            help: ArgumentHelp(
                "A directory to add as one layer; <dir>:<dest> places it at <dest>.", valueName: "dir[:dest]"))
        var layerDirs: [String] = []

        @Option(
            help: ArgumentHelp(
                "Entrypoint: a JSON array (exec form) or a string run by /bin/sh -c.", valueName: "command"))
        var entrypoint: String?

        @Option(
            help: ArgumentHelp("Cmd: a JSON array (exec form) or a string run by /bin/sh -c.", valueName: "command"))
        var cmd: String?

        @Option(
            help: ArgumentHelp(
                "Environment variable (repeatable); replaces a base value of the same name.", valueName: "KEY=VALUE"))
        var env: [String] = []

        @Option(help: "Working directory.")
        var workdir: String?

        @Option(help: "User (name, uid, or uid:gid).")
        var user: String?

        @Option(help: ArgumentHelp("Image label (repeatable).", valueName: "KEY=VALUE"))
        var label: [String] = []

        @Option(help: ArgumentHelp("Port to expose (repeatable), e.g. 8080 or 53/udp.", valueName: "port[/proto]"))
        var expose: [String] = []

        @Option(help: ArgumentHelp("Manifest annotation (repeatable).", valueName: "KEY=VALUE"))
        var annotation: [String] = []

        @Option(help: "Layer compression: gzip, zstd or none.")
        var compression: String = "gzip"

        @Option(help: "Where to write the image: oci-layout:<path>:<tag>.")
        var output: String

        @Flag(help: "Print the result as JSON instead of the manifest digest.")
        var json = false

        func validate() throws {
            if LayerCompression(rawValue: compression) == nil {
                throw ValidationError("--compression must be gzip, zstd or none (got '\(compression)')")
            }
            for e in env { _ = try parseKeyValue(e, flag: "--env") }
            for l in label { _ = try parseKeyValue(l, flag: "--label") }
            for a in annotation { _ = try parseKeyValue(a, flag: "--annotation") }
        }

        func run() throws {
            try reportingErrors {
                let environment = ProcessInfo.processInfo.environment
                let out = try parseLayoutReference(output, flag: "--output")
                guard let tag = out.tag else {
                    throw ValidationError("--output needs a tag: oci-layout:\(out.path):<tag>")
                }
                try OCILayout.validateTag(tag)
                let plat = try platform.map { try Platform(parsing: $0) }
                let assemblyBase: AssemblyBase
                if base == "scratch" {
                    assemblyBase = .scratch(platform: plat ?? .host)
                } else {
                    let ref = try parseLayoutReference(base, flag: "--base")
                    assemblyBase = .layout(try OCILayout.open(at: ref.path), tag: ref.tag, platform: plat)
                }
                for spec in layerDirs {
                    let dir = splitLayerDir(spec).0
                    var isDir: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                        throw ValidationError("--layer-dir \(spec): '\(dir)' is not a directory")
                    }
                }
                // A layout this command creates is removed again if assembly fails.
                let createdLayout = !FileManager.default.fileExists(atPath: out.path)
                let destination = try OCILayout.create(at: out.path)
                var succeeded = false
                defer {
                    if createdLayout && !succeeded { try? FileManager.default.removeItem(atPath: destination.path) }
                }

                var options = LayerWriteOptions(compression: LayerCompression(rawValue: compression)!)
                options.sourceDateEpoch = try LayerWriteOptions.sourceDateEpochFromEnvironment()
                var layers: [LayerInput] = []
                var staged: [String] = []
                defer { for f in staged { unlink(f) } }
                for spec in layerDirs {
                    let (dir, dest) = splitLayerDir(spec)
                    let tmp = destination.temporaryBlobPath(label: "layer")
                    staged.append(tmp)
                    let r = try LayerWriter.write(directory: dir, destination: dest, to: tmp, options: options)
                    for w in r.warnings { printError("warning: \(spec): \(w)") }
                    layers.append(
                        LayerInput(
                            file: tmp, mediaType: r.mediaType, digest: r.digest, size: r.size,
                            diffID: r.diffID,
                            createdBy: "ociforge image assemble --layer-dir \(dest ?? "/")",
                            comment: "\(r.entryCount) entries, \(r.compressor)",
                            consumeFile: true))
                }
                var changes = ConfigChanges()
                changes.entrypoint = try entrypoint.map { try parseCommand($0, flag: "--entrypoint") }
                changes.cmd = try cmd.map { try parseCommand($0, flag: "--cmd") }
                changes.env = env
                changes.workingDir = workdir
                changes.user = user
                changes.labels = Dictionary(
                    try label.map { try parseKeyValue($0, flag: "--label") }, uniquingKeysWith: { $1 })
                changes.exposedPorts = expose
                changes.annotations = Dictionary(
                    try annotation.map { try parseKeyValue($0, flag: "--annotation") }, uniquingKeysWith: { $1 })

                let image = try ImageAssembler(
                    base: assemblyBase, layers: layers, changes: changes,
                    destination: destination, tag: tag, environment: environment
                ).assemble()
                succeeded = true
                if json {
                    let summary: [String: Any] = [
                        "layout": destination.path, "tag": tag,
                        "manifestDigest": image.manifestDigest.string, "manifestSize": image.manifestDescriptor.size,
                        "configDigest": image.configDigest.string,
                        "layers": image.manifest.value.layers.map {
                            ["digest": $0.digest.string, "size": $0.size, "mediaType": $0.mediaType.rawValue]
                        }
                    ]
                    let data = try JSONSerialization.data(
                        withJSONObject: summary, options: [.sortedKeys, .prettyPrinted])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    printError("wrote \(destination.path):\(tag) (\(image.manifest.value.layers.count) layers)")
                    print(image.manifestDigest.string)
                }
            }
        }

        /// `dir:/dest` → (dir, "/dest"); `dir` → (dir, nil). The split is at the last ':' followed by '/'.
        private func splitLayerDir(_ spec: String) -> (String, String?) {
            if let i = spec.lastIndex(of: ":"), spec[spec.index(after: i)...].hasPrefix("/"), i != spec.startIndex {
                return (String(spec[..<i]), String(spec[spec.index(after: i)...]))
            }
            return (spec, nil)
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an image's manifest, config and layers.")

        @Argument(help: "oci-layout:<path>[:tag]")
        var image: String

        @Option(help: "Platform to pick from an index (default: host).")
        var platform: String?

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            try reportingErrors {
                let ref = try parseLayoutReference(image, flag: "image")
                let layout = try OCILayout.open(at: ref.path)
                let summary = try layout.inspect(tag: ref.tag, platform: try platform.map { try Platform(parsing: $0) })
                if json {
                    print(String(decoding: try CanonicalJSON.encode(summary), as: UTF8.self))
                } else {
                    print(summary.text(), terminator: "")
                }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-derive every digest, diffID and size of an image layout.",
            discussion: """
                Exits 0 when the layout is valid, 1 when any problem is found (all problems are listed). Layers are
                decompressed within the --max-* limits: a layer past one (a decompression bomb) is a problem naming
                its digest and the limit.
                """)

        @Argument(help: "oci-layout:<path>[:tag] (without a tag: every image and every blob of the layout).")
        var image: String

        @Flag(help: "Print the report as JSON.")
        var json = false

        @OptionGroup(title: "Decompression limits") var decompressionLimits: DecompressionLimitFlags

        func run() throws {
            try reportingErrors {
                let ref = try parseLayoutReference(image, flag: "image")
                let layout = try OCILayout.open(at: ref.path)
                let report = LayoutVerifier.verify(layout, tag: ref.tag, limits: decompressionLimits.limits)
                if json {
                    print(String(decoding: try CanonicalJSON.encode(report), as: UTF8.self))
                } else {
                    print(report.text(), terminator: "")
                }
                if !report.isValid { throw ExitCode(1) }
            }
        }
    }

    struct Unpack: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unpack an image's layers into a root filesystem directory, safely.",
            discussion: """
                Every path is resolved inside the rootfs (openat2 RESOLVE_IN_ROOT); whiteouts are applied; digests,
                sizes and diffIDs are verified while extracting. The rootfs is built in a temporary sibling directory
                and renamed into place only when every layer applied.
                """)

        @Argument(help: "oci-layout:<path>[:tag]")
        var image: String

        @Argument(help: "Destination directory (must not exist, or be empty).")
        var rootfs: String

        @Option(help: "Platform to pick from an index (default: host).")
        var platform: String?

        @OptionGroup(title: "Extraction limits") var extractionLimits: ExtractionLimitFlags

        func run() throws {
            try reportingErrors {
                let ref = try parseLayoutReference(image, flag: "image")
                let layout = try OCILayout.open(at: ref.path)
                let resolved = try layout.resolve(
                    tag: ref.tag, platform: try platform.map { try Platform(parsing: $0) })
                let blobs = try resolved.layerBlobs(verify: false)
                let sources = blobs.map {
                    LayerSource(
                        path: $0.path, compression: $0.compression, digest: $0.descriptor.digest,
                        size: $0.descriptor.size, diffID: $0.diffID)
                }
                let reports = try LayerExtractor.unpack(
                    layers: sources, to: rootfs,
                    options: LayerExtractionOptions(limits: extractionLimits.limits))
                for r in reports { for w in r.warnings { printError("warning: \(w)") } }
                printError("unpacked \(sources.count) layers into \(rootfs)")
            }
        }
    }
}
