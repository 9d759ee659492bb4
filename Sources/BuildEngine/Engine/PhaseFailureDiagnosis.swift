import Foundation

/// What a failed step's output says about why it failed, classified from the tools' own wording (both front ends:
/// `BuildEngineError` classifies its `lastOutput`). Today one class: a TLS certificate the step's tool could not
/// verify against its CA store, which is what a machine behind a TLS-intercepting egress proxy meets first and
/// what `--ca-bundle` fixes.
public struct PhaseFailureDiagnosis: Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// The server's certificate chain ends at a CA the step does not trust (self-signed, unknown issuer).
        case untrustedCertificate
    }

    /// The tool whose wording matched.
    public enum Tool: String, Sendable {
        case curl, wget, python, node, git, apt, go, rust, ruby, java, php, dotnet, openssl
    }

    public var kind: Kind
    public var tool: Tool
    /// The output line that matched (trimmed).
    public var line: String

    /// Wordings of certificate-verification failures, per tool (case-insensitive substrings). Expired certificates
    /// and host-name mismatches are not listed: another CA bundle does not fix them.
    static let patterns: [(Tool, String)] = [
        (.curl, "ssl certificate problem"),  // curl: (60) SSL certificate problem: self-signed certificate
        (.curl, "curl: (60)"),
        (.wget, "cannot verify"),  // ERROR: cannot verify host's certificate, issued by …
        (.wget, "unable to locally verify the issuer"),
        (.python, "certificate_verify_failed"),  // pip, requests, urllib: [SSL: CERTIFICATE_VERIFY_FAILED]
        (.python, "there was a problem confirming the ssl certificate"),  // pip
        (.node, "self_signed_cert_in_chain"),  // npm error code SELF_SIGNED_CERT_IN_CHAIN
        (.node, "unable_to_get_issuer_cert_locally"),
        (.node, "depth_zero_self_signed_cert"),
        (.node, "unable_to_verify_leaf_signature"),
        (.git, "server certificate verification failed"),  // git (GnuTLS): … CAfile: none CRLfile: none
        (.apt, "certificate verification failed: the certificate is not trusted"),  // apt (GnuTLS)
        (.apt, "the certificate issuer is unknown"),
        (.go, "x509: certificate signed by unknown authority"),  // go get, go mod download
        (.rust, "invalidcertificate(unknownissuer)"),  // rustls: uv, deno, cargo (rustls builds)
        (.rust, "invalid peer certificate: unknownissuer"),
        (.rust, "ssl peer certificate or ssh remote key was not ok"),  // cargo (libcurl)
        (.php, "ssl operation failed with code 1"),  // composer
        (.ruby, "certificate verify failed"),  // gem/bundler: SSL_connect returned=1 … certificate verify failed
        (.java, "unable to find valid certification path"),  // gradle/maven: PKIX path building failed
        (.java, "pkix path building failed"),
        (.dotnet, "remotecertificatechainerrors"),  // dotnet restore
        (.dotnet, "the remote certificate is invalid because of errors in the certificate chain"),
        (.openssl, "verify error:num=19"),  // self-signed certificate in certificate chain
        (.openssl, "verify error:num=20"),  // unable to get local issuer certificate
        // node's messages without the code (undici/fetch), last: other tools quote the same OpenSSL text.
        (.node, "self-signed certificate in certificate chain"),
        (.node, "unable to get local issuer certificate")
    ]

    /// The first line of `output` (top down) that shows a certificate-verification failure; nil when none does.
    public static func classify(_ output: String) -> PhaseFailureDiagnosis? {
        for raw in output.split(separator: "\n") {
            let lower = raw.lowercased()
            for (tool, pattern) in patterns where lower.contains(pattern) {
                // wget's "cannot verify" only counts with a certificate in the line.
                if pattern == "cannot verify" && !lower.contains("certificate") { continue }
                let line = raw.trimmingCharacters(in: .whitespaces)
                // git over libcurl repeats curl's wording after its own prefix.
                let by: Tool = tool == .curl && lower.contains("fatal: unable to access") ? .git : tool
                return PhaseFailureDiagnosis(kind: .untrustedCertificate, tool: by, line: line)
            }
        }
        return nil
    }

    /// The one line a failed step's error adds.
    public var hint: String {
        switch kind {
        case .untrustedCertificate:
            return "hint: the step's \(tool.rawValue) could not verify a TLS certificate (untrusted or self-signed "
                + "issuer): behind a TLS-intercepting proxy, or for a server with a private CA, pass that CA's PEM "
                + "file with --ca-bundle <file> (e.g. --ca-bundle /etc/ssl/certs/ca-certificates.crt when the host "
                + "trusts it)"
        }
    }
}
