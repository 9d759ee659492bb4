import Foundation
import Testing

@testable import BuildEngine

/// The certificate-failure classification of a failed step's output (issue 12 item 4): the tools' own wordings as
/// they print them, and outputs that must not be taken for one.
@Suite struct PhaseFailureDiagnosisTests {
    static let untrusted: [(String, PhaseFailureDiagnosis.Tool)] = [
        ("curl: (60) SSL certificate problem: self-signed certificate", .curl),
        ("curl: (60) SSL certificate problem: unable to get local issuer certificate", .curl),
        (
            "ERROR: cannot verify 127.0.0.1's certificate, issued by 'CN=127.0.0.1':\n  Self-signed certificate encountered.",
            .wget
        ),
        (
            "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1000)'))': /simple/flask/",
            .python
        ),
        ("npm error code SELF_SIGNED_CERT_IN_CHAIN", .node),
        ("npm ERR! code UNABLE_TO_GET_ISSUER_CERT_LOCALLY", .node),
        ("fetch failed: DEPTH_ZERO_SELF_SIGNED_CERT self-signed certificate", .node),
        (
            "fatal: unable to access 'https://git.example/x.git/': server certificate verification failed. CAfile: none CRLfile: none",
            .git
        ),
        (
            "W: Failed to fetch https://repo.example/dists/x/InRelease  Certificate verification failed: The certificate is NOT trusted. The certificate issuer is unknown.  Could not handshake: Error in the certificate verification. [IP: 10.0.0.1 443]",
            .apt
        ),
        (
            "go: example.com/m@v1.0.0: Get \"https://proxy.golang.org/example.com/m/@v/v1.0.0.mod\": tls: failed to verify certificate: x509: certificate signed by unknown authority",
            .go
        ),
        (
            "error: Request failed after 3 retries\n  Caused by: invalid peer certificate: UnknownIssuer",
            .rust
        ),
        (
            "Could not verify the SSL certificate for https://rubygems.org/. SSL_connect returned=1 errno=0 peeraddr=1.2.3.4:443 state=error: certificate verify failed (self-signed certificate in certificate chain)",
            .ruby
        ),
        (
            "fatal: unable to access 'https://git.example/x.git/': SSL certificate problem: self-signed certificate in certificate chain",
            .git
        ),
        (
            "Failed to download a/b from dist: SSL operation failed with code 1. OpenSSL Error messages: error:0A000086:SSL routines::certificate verify failed",
            .php
        ),
        (
            "PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target",
            .java
        )
    ]

    @Test func recognisesEachToolsWording() {
        for (output, tool) in Self.untrusted {
            let d = PhaseFailureDiagnosis.classify("some earlier line\n" + output + "\nlater line")
            #expect(d?.kind == .untrustedCertificate, "\(output)")
            #expect(d?.tool == tool, "\(output): \(String(describing: d))")
        }
    }

    @Test func otherFailuresAreNotCertificateFailures() {
        for output in [
            "curl: (6) Could not resolve host: example.invalid",
            "npm error code CERT_HAS_EXPIRED",  // a new CA bundle does not fix an expired certificate
            "ERROR: No matching distribution found for flask==99",
            "E: Unable to locate package nosuchpackage",
            "wget: cannot verify the download size",
            "(no output)"
        ] {
            #expect(PhaseFailureDiagnosis.classify(output) == nil, "\(output)")
        }
    }

    @Test func stepErrorCarriesOneHintLineNamingCABundle() {
        let e = BuildEngineError(
            .stepFailed, "phase build/build failed", phase: "build/build", command: "curl -fsS https://x/",
            exitStatus: 60,
            lastOutput: "last output lines:\n    curl: (60) SSL certificate problem: self-signed certificate")
        #expect(e.diagnosis?.tool == .curl)
        let lines = e.description.split(separator: "\n").filter { $0.contains("--ca-bundle") }
        #expect(lines.count == 1 && lines[0].contains("hint:"))

        let plain = BuildEngineError(
            .stepFailed, "phase build/build failed", exitStatus: 1, lastOutput: "last output lines:\n    boom")
        #expect(plain.diagnosis == nil && !plain.description.contains("--ca-bundle"))
    }
}
