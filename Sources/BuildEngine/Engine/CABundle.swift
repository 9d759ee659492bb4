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
    /// apt-get options making apt's https method (an https Debian mirror) trust the bundle. apt reads `CAInfo`
    /// instead of the system store, so the bundle must hold every CA the mirror needs (the host's
    /// ca-certificates.crt plus a proxy's CA, as `--ca-bundle` is documented). Its download methods normally drop
    /// to the `_apt` user, who cannot read the root-only secret file: with a bundle they stay root of the phase's
    /// user namespace (the phase is sandboxed either way).
    static let aptOptions = "-o Acquire::https::CAInfo=\(path) -o APT::Sandbox::User=root"

    /// The bundle at `file` as a secret.
    static func secret(_ file: String) throws(BuildEngineError) -> Secret {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw BuildEngineError(
                .invalidInput, "cannot read the CA bundle \(file) (--ca-bundle): give a readable PEM file")
        }
        return Secret(id: id, value: String(decoding: data, as: UTF8.self))
    }
}
