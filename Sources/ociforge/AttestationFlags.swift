import ArgumentParser
import BuildEngine
import Foundation
import SupplyChain

/// `build` / `dockerfile build`: the SBOM and provenance attached to the image (BuildKit's `--sbom` and
/// `--provenance`) and the key that signs a pushed image.
struct AttestationFlags: ParsableArguments {
    @Option(
        name: .customLong("sbom"),
        help:
            "SBOM formats attached to the image as referrers: spdx (default), cyclonedx, spdx,cyclonedx, or none (true/false as in buildx)."
    )
    var sbom: String = "spdx"

    @Flag(
        name: .customLong("sbom-build-stage"),
        help:
            "Also attach an SBOM of the build stage (its Debian packages, every toolchain, the source's lockfiles), annotated dev.ociforge.sbom.scope=build; plan builds only."
    )
    var sbomBuildStage = false

    @Flag(
        name: .customLong("provenance"), inversion: .prefixedNo,
        help: "Attach an in-toto SLSA v1 provenance statement (default: on).")
    var provenance = true

    @Option(
        name: .customLong("sign-key"),
        help:
            "Sign the pushed image (--output docker://…), or the image in an OCI layout output (with --sign-identity), with this private key PEM (sigstore format, as `image sign`)."
    )
    var signKey: String?

    @Option(
        name: .customLong("sign-identity"),
        help:
            "With --sign-key and an OCI layout output: the host/repository[:tag] the signature names (where the image will be pulled from once copied with `image copy --with-referrers`)."
    )
    var signIdentity: String?

    @Option(
        name: .customLong("sign-passphrase-file"),
        help:
            "File whose first line is the --sign-key passphrase (default: $OCIFORGE_KEY_PASSPHRASE, then $COSIGN_PASSWORD)."
    )
    var signPassphraseFile: String?

    func validate() throws {
        if try formats().isEmpty, sbomBuildStage {
            throw ValidationError("--sbom-build-stage needs an SBOM format: drop --sbom \(sbom) or --sbom-build-stage")
        }
    }

    /// The SBOM formats `--sbom` names.
    func formats() throws -> [SBOMFormat] {
        var out: [SBOMFormat] = []
        for word in sbom.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            switch word {
            case "none", "false": continue
            case "true": out.append(.spdx)
            default:
                guard let f = SBOMFormat(rawValue: word) else {
                    throw ValidationError(
                        "--sbom \(sbom): '\(word)' is not an SBOM format; use spdx, cyclonedx, spdx,cyclonedx or none")
                }
                out.append(f)
            }
        }
        return out.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }

    /// The flags as engine options (the key loaded and decrypted now, so a wrong passphrase fails before building).
    func options() throws -> AttestationOptions {
        var key: SigningKey?
        if let signKey {
            let file = signPassphraseFile
            key = try SigstoreKeyFile.loadPrivateKey(pem: try readKeyFile(signKey), source: signKey) {
                try PassphraseFlags.required(for: signKey, file: file, flag: "--sign-passphrase-file")
            }
        }
        var options = AttestationOptions(
            sbomFormats: try formats(), provenance: provenance, signingKey: key, signingIdentity: signIdentity)
        options.buildStageSBOM = sbomBuildStage
        return options
    }
}
