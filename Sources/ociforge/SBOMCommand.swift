import ArgumentParser
import Foundation
import OCIWriter
import SupplyChain

extension ImageCommand {
    struct SBOM: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sbom",
            abstract: "Write an SBOM (SPDX 2.3 or CycloneDX 1.6 JSON) of an image's Debian packages.",
            discussion: """
                Reads the last state of /var/lib/dpkg/status in the image's layer stack (no container is run) and lists
                every installed package with its purl (pkg:deb/<distro id>/<name>@<version>?arch=&distro=). The document
                is deterministic: its time is SOURCE_DATE_EPOCH (0 when unset) and its namespace derives from the image
                digest. --attach stores it as an OCI referrer of the image (registry or layout).
                """)

        @Argument(help: "oci-layout:<path>[:tag] or [docker://]host[:port]/repository[:tag].")
        var image: String

        @Option(help: "spdx or cyclonedx.")
        var format: String = "spdx"

        @Option(name: .shortAndLong, help: "Write the document here (default: standard output).")
        var output: String?

        @Option(
            help: ArgumentHelp(
                "A lockfile inside the image whose dependencies are listed too (repeatable), e.g. /app/package-lock.json.",
                valueName: "path"))
        var lockfile: [String] = []

        @Flag(help: "Attach the SBOM to the image as an OCI referrer.")
        var attach = false

        @OptionGroup var platforms: PlatformChoice

        @OptionGroup var flags: RegistryFlags

        func validate() throws {
            if SBOMFormat(rawValue: format) == nil {
                throw ValidationError("--format must be spdx or cyclonedx (got '\(format)')")
            }
        }

        func run() throws {
            try reportingErrors {
                let fmt = SBOMFormat(rawValue: format)!
                let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap { Int64($0) } ?? 0
                let location = try ReferrerEndpoint.location(image)
                let platform = try platforms.chosenPlatform()
                var stdin: String?
                let bytes: [UInt8], subject: Descriptor
                switch location {
                case .ociLayout(let path, let tag):
                    let resolved = try OCILayout.open(at: path).resolve(tag: tag, platform: platform)
                    let extra = try ImageSBOM.lockfilePackages(of: resolved, paths: lockfile)
                    bytes = try ImageSBOM.document(
                        of: resolved, name: path + (tag.map { ":" + $0 } ?? ""), format: fmt,
                        sourceDateEpoch: epoch, extra: extra)
                    subject = resolved.manifestDescriptor
                case .registry(let ref):
                    let client = try RegistryClient(
                        registry: ref.registry,
                        credential: try flags.credential(for: ref.registry, stdinPassword: &stdin),
                        options: flags.options)
                    (bytes, subject) = try runBlocking {
                        try await ImageSBOM.document(
                            of: ref, client: client, platform: platform, format: fmt, sourceDateEpoch: epoch,
                            lockfiles: lockfile)
                    }
                case .dockerArchive:
                    throw ValidationError("use oci-layout:<dir>[:tag] or a registry reference")
                }
                if let output {
                    try writeFileAtomically(output, bytes, mode: 0o644)
                } else {
                    FileHandle.standardOutput.write(Data(bytes + [0x0A]))
                }
                if attach {
                    let store = try ReferrerEndpoint.store(location, flags: flags, stdin: &stdin)
                    let artifact = try ImageSBOM.artifact(bytes, format: fmt, subject: subject)
                    let d = try runBlocking { try await store.attachArtifact(artifact) }
                    printError("attached \(fmt.rawValue) SBOM \(d.digest) to \(subject.digest)")
                }
            }
        }
    }
}
