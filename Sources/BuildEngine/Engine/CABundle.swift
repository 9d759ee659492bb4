import Foundation
import Sandbox

/// `BuildOptions.caBundle` in a step: the PEM file as a secret (tmpfs at /run/secrets/ociforge-ca-bundle, never in a
/// layer) and the variables tools read it from. Both front ends use it.
enum CABundle {
    static let id = "ociforge-ca-bundle"
    static let path = "/run/secrets/" + id
    static let variables = [
        "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
        "GIT_SSL_CAINFO", "CARGO_HTTP_CAINFO"
    ]

    /// The bundle at `file` as a secret.
    static func secret(_ file: String) throws(BuildEngineError) -> Secret {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw BuildEngineError(
                .invalidInput, "cannot read the CA bundle \(file) (--ca-bundle): give a readable PEM file")
        }
        return Secret(id: id, value: String(decoding: data, as: UTF8.self))
    }
}
