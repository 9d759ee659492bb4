import Foundation

@testable import Toolchains

/// A loopback "channels" server for the version-source fixtures: every upstream channel's exact index and
/// checksum format (node index.json + SHASUMS256.txt, go.dev/dl JSON, python-build-standalone release listing +
/// SHA256SUMS, the Rust channel TOML, the .NET releases-index/releases.json, Deno versions.json + .sha256sum, Bun
/// and jdx/ruby GitHub release listings, zig index.json, gleam and sbt GitHub release listings with `.sha256`
/// assets, the dart-archive bucket listing with `.sha256sum`, swift.org's install API releases.json with tarballs
/// signed by a key the test generates and a `.sig` next to each), with one small deterministic archive per release
/// in the upstream's layout. The archives hold a shell script, not the tool: they are ONLY for resolution and snapshot
/// tests (their URLs and digests appear in snapshots); nothing here claims to run the real toolchain.
/// Archives are byte-stable (fixed mtimes, owner 0, `gzip -n`, single-threaded xz, zip in UTC) so digests in
/// committed snapshots hold on any machine with the same tar/gzip/xz/zip. linux/amd64 only.
final class FixtureChannels: @unchecked Sendable {
    let server: LoopbackServer
    let builder: ArchiveBuilder
    /// The host that replaces the loopback base in snapshots.
    static let stableBase = "http://channels.test"

    var base: String { server.base }

    /// Every endpoint at `<base>/<key>` (what `--toolchain-mirror key=URL` sets).
    var mirrors: [String: String] {
        Dictionary(uniqueKeysWithValues: ChannelEndpoint.allCases.map { ($0.rawValue, "\(base)/\($0.rawValue)") })
    }

    init() throws {
        server = try LoopbackServer()
        builder = try ArchiveBuilder()
        try node(["24.1.0": "Krypton", "22.12.0": "Jod", "22.11.0": "Jod", "20.18.1": "Iron"])
        try go(["1.24.4", "1.23.4", "1.22.10"])
        try python(["3.13.0", "3.12.7", "3.11.10"], build: "20241016")
        try ruby(["3.4.1", "3.3.6"])
        try rust("1.89.0", date: "2025-08-07")
        try dotnet(sdk: "8.0.404", runtime: "8.0.11")
        try deno(["2.1.4", "2.0.0"])
        try bun(["1.1.38", "1.1.30"])
        try zig(["0.14.1", "0.13.0"])
        try gleam(["1.11.1", "1.10.0"])
        try dart(["3.5.4", "3.4.4"])
        try sbt(["1.10.7", "1.9.9"])
        signer = try OpenPGPSigner(builder.dir + "/gnupg")
        try swift(["6.2.1", "6.1.2"], withoutDebian12: "5.9.2")
    }

    /// The test's OpenPGP key (generated with gpg per instance) that signs the swift stand-ins; `keyring` is its
    /// exported public key, what `--toolchain-keyring swift=` takes.
    private(set) var signer: OpenPGPSigner!
    var keyring: String { signer.keyring }

    deinit {
        server.stop()
        builder.cleanup()
    }

    /// `text` with the loopback base replaced by `stableBase`.
    func stable(_ text: String) -> String { text.replacingOccurrences(of: base, with: Self.stableBase) }

    // MARK: - Deterministic archives

    private func tree(_ name: String, _ files: [String: String]) throws -> String {
        let root = try builder.tree(name + "-" + UUID().uuidString, files: files)
        try builder.run("/usr/bin/find", [root, "-exec", "touch", "-h", "-d", "@1700000000", "{}", "+"])
        return root
    }

    /// `tar` of `root`'s entries compressed with `gzip -n` or single-threaded `xz`.
    private func tar(_ root: String, xz: Bool) throws -> [UInt8] {
        let out = builder.dir + "/fx-\(UUID().uuidString).tar"
        let names = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        try builder.run(
            "/usr/bin/tar",
            [
                "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@1700000000", "--format=gnu",
                "-cf", out, "-C", root
            ] + names)
        try builder.run(xz ? "/usr/bin/xz" : "/usr/bin/gzip", xz ? ["-T1", "-6", "-k", out] : ["-n", "-6", "-k", out])
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: out + (xz ? ".xz" : ".gz"))))
    }

    private func zip(_ root: String) throws -> [UInt8] {
        let out = builder.dir + "/fx-\(UUID().uuidString).zip"
        let names = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/zip")
        p.arguments = ["-q", "-r", "-X", "-D", out] + names
        p.currentDirectoryURL = URL(fileURLWithPath: root)
        p.environment = ["TZ": "UTC", "PATH": "/usr/bin:/bin"]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw POSIXError(.EIO) }
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
    }

    private static func script(_ tool: String, _ version: String) -> String {
        "#!/bin/sh\necho '\(tool) \(version) (ociforge test archive: resolution and snapshot tests only)'\n"
    }

    // MARK: - Channels

    private func node(_ versions: [String: String]) throws {
        var entries: [String] = []
        for v in versions.keys.sorted(by: { $0.compare($1, options: .numeric) == .orderedDescending }) {
            let top = "node-v\(v)-linux-x64"
            let xz = try tar(try tree("node", ["\(top)/bin/node": Self.script("node", v)]), xz: true)
            server.put("/node/v\(v)/\(top).tar.xz", xz)
            server.put("/node/v\(v)/SHASUMS256.txt", "\(Hex.sha256(xz))  \(top).tar.xz\n")
            entries.append(
                #"{"version":"v\#(v)","date":"2024-12-03","files":["linux-x64","osx-arm64-tar"],"npm":"10.9.0","lts":"\#(versions[v]!)","security":false}"#
            )
        }
        server.put("/node/index.json", "[" + entries.joined(separator: ",\n") + "]")
    }

    private func go(_ versions: [String]) throws {
        var releases: [String] = []
        for v in versions {
            let name = "go\(v).linux-amd64.tar.gz"
            let gz = try tar(try tree("go", ["go/bin/go": Self.script("go", v), "go/VERSION": "go\(v)\n"]), xz: false)
            server.put("/go/" + name, gz)
            releases.append(
                #"{"version":"go\#(v)","stable":true,"files":[{"filename":"\#(name)","os":"linux","arch":"amd64","version":"go\#(v)","sha256":"\#(Hex.sha256(gz))","size":\#(gz.count),"kind":"archive"}]}"#
            )
        }
        server.put("/go/?mode=json&include=all", "[" + releases.joined(separator: ",\n") + "]")
    }

    private func python(_ versions: [String], build: String) throws {
        let t = "x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
        var sums = "", assets: [String] = []
        for v in versions {
            let minor = v.split(separator: ".").prefix(2).joined(separator: ".")
            let gz = try tar(
                try tree("python", ["python/bin/python\(minor)": Self.script("Python", v)]), xz: false)
            let name = "cpython-\(v)+\(build)-\(t)"
            let encoded = name.replacingOccurrences(of: "+", with: "%2B")
            server.put("/python/releases/download/\(build)/\(encoded)", gz)
            sums += "\(Hex.sha256(gz))  \(name)\n"
            assets.append(
                #"{"name":"\#(name)","browser_download_url":"https://github.com/astral-sh/python-build-standalone/releases/download/\#(build)/\#(encoded)","size":\#(gz.count)}"#
            )
        }
        server.put("/python/releases/download/\(build)/SHA256SUMS", sums)
        assets.append(
            #"{"name":"SHA256SUMS","browser_download_url":"https://github.com/astral-sh/python-build-standalone/releases/download/\#(build)/SHA256SUMS","size":\#(sums.utf8.count)}"#
        )
        server.put(
            "/python/releases?per_page=10",
            #"[{"tag_name":"\#(build)","prerelease":false,"assets":[\#(assets.joined(separator: ","))]}]"#)
    }

    private func ruby(_ versions: [String]) throws {
        var releases: [String] = []
        for v in versions {
            let name = "ruby-\(v).x86_64_linux.tar.gz"
            let gz = try tar(try tree("ruby", ["ruby-\(v)/bin/ruby": Self.script("ruby", v)]), xz: false)
            server.put("/ruby/releases/download/\(v)/\(name)", gz)
            releases.append(
                #"{"tag_name":"\#(v)","prerelease":false,"published_at":"2024-12-26T00:00:00Z","assets":[{"name":"\#(name)","browser_download_url":"https://github.com/jdx/ruby/releases/download/\#(v)/\#(name)","size":\#(gz.count),"digest":"sha256:\#(Hex.sha256(gz))"}]}"#
            )
        }
        server.put("/ruby/releases?per_page=100", "[" + releases.joined(separator: ",\n") + "]")
    }

    private func rust(_ v: String, date: String) throws {
        let t = "x86_64-unknown-linux-gnu"
        var table = ""
        for (name, dir, rel) in [
            ("rustc", "rustc", "bin/rustc"), ("cargo", "cargo", "bin/cargo"),
            ("rust-std", "rust-std-\(t)", "lib/rustlib/\(t)/lib/libstd.rlib")
        ] {
            let top = "\(name)-\(v)-\(t)"
            let xz = try tar(
                try tree(
                    name,
                    [
                        "\(top)/components": dir + "\n", "\(top)/rust-installer-version": "3\n",
                        "\(top)/\(dir)/\(rel)": Self.script(name, v), "\(top)/\(dir)/manifest.in": "file:\(rel)\n"
                    ]), xz: true)
            server.put("/rust/dist/\(date)/\(top).tar.xz", xz)
            table += """

                [pkg.\(name)]
                version = "\(v) (29483883e 2025-08-04)"
                [pkg.\(name).target.\(t)]
                available = true
                url = "https://static.rust-lang.org/dist/\(date)/\(top).tar.gz"
                hash = "\(String(repeating: "9", count: 64))"
                xz_url = "https://static.rust-lang.org/dist/\(date)/\(top).tar.xz"
                xz_hash = "\(Hex.sha256(xz))"

                """
        }
        let manifest = """
            date = "\(date)"
            manifest-version = "2"
            [profiles]
            minimal = ["rustc", "cargo", "rust-std"]
            """ + table
        server.put("/rust/dist/channel-rust-\(v).toml", manifest)
        server.put("/rust/dist/channel-rust-stable.toml", manifest)
    }

    private func dotnet(sdk: String, runtime: String) throws {
        let up = "https://builds.dotnet.microsoft.com/dotnet"
        let gz = try tar(try tree("dotnet", ["dotnet": Self.script("dotnet", sdk)]), xz: false)
        server.put("/dotnet/dotnet/Sdk/\(sdk)/dotnet-sdk-\(sdk)-linux-x64.tar.gz", gz)
        let rt = try tar(try tree("aspnet", ["dotnet": Self.script("aspnetcore", runtime)]), xz: false)
        server.put("/dotnet/dotnet/aspnetcore/Runtime/\(runtime)/aspnetcore-runtime-\(runtime)-linux-x64.tar.gz", rt)
        server.put(
            "/dotnet/dotnet/release-metadata/releases-index.json",
            #"{"releases-index":[{"channel-version":"8.0","latest-release":"\#(runtime)","latest-sdk":"\#(sdk)","support-phase":"active","release-type":"lts","releases.json":"\#(up)/release-metadata/8.0/releases.json"}]}"#
        )
        server.put(
            "/dotnet/dotnet/release-metadata/8.0/releases.json",
            """
            {"channel-version":"8.0","releases":[{"release-date":"2024-11-12","release-version":"\(runtime)",
              "sdk":{"version":"\(sdk)","files":[]},
              "aspnetcore-runtime":{"version":"\(runtime)","files":[{"name":"aspnetcore-runtime-linux-x64.tar.gz","rid":"linux-x64","url":"\(up)/aspnetcore/Runtime/\(runtime)/aspnetcore-runtime-\(runtime)-linux-x64.tar.gz","hash":"\(try Hex.sha512(rt))"}]},
              "sdks":[{"version":"\(sdk)","files":[{"name":"dotnet-sdk-linux-x64.tar.gz","rid":"linux-x64","url":"\(up)/Sdk/\(sdk)/dotnet-sdk-\(sdk)-linux-x64.tar.gz","hash":"\(try Hex.sha512(gz))"}]}]}]}
            """)
    }

    private func deno(_ versions: [String]) throws {
        for v in versions {
            let name = "deno-x86_64-unknown-linux-gnu.zip"
            let z = try zip(try tree("deno", ["deno": Self.script("deno", v)]))
            server.put("/deno/release/v\(v)/\(name)", z)
            server.put("/deno/release/v\(v)/\(name).sha256sum", "\(Hex.sha256(z))  \(name)\n")
        }
        server.put(
            "/deno-index/versions.json", #"{"cli":[\#(versions.map { "\"v\($0)\"" }.joined(separator: ","))]}"#)
    }

    private func bun(_ versions: [String]) throws {
        let gh = "https://github.com/oven-sh/bun/releases/download"
        var releases: [String] = []
        for v in versions {
            let z = try zip(try tree("bun", ["bun-linux-x64/bun": Self.script("bun", v)]))
            server.put("/bun/releases/download/bun-v\(v)/bun-linux-x64.zip", z)
            server.put("/bun/releases/download/bun-v\(v)/SHASUMS256.txt", "\(Hex.sha256(z))  bun-linux-x64.zip\n")
            releases.append(
                #"{"tag_name":"bun-v\#(v)","prerelease":false,"draft":false,"published_at":"2024-11-29T08:00:00Z","assets":[{"name":"bun-linux-x64.zip","browser_download_url":"\#(gh)/bun-v\#(v)/bun-linux-x64.zip","size":\#(z.count)},{"name":"SHASUMS256.txt","browser_download_url":"\#(gh)/bun-v\#(v)/SHASUMS256.txt","size":90}]}"#
            )
        }
        server.put("/bun/releases?per_page=100", "[" + releases.joined(separator: ",\n") + "]")
    }

    private func zig(_ versions: [String]) throws {
        var entries: [String] = []
        for v in versions {
            let top = "zig-x86_64-linux-\(v)"
            let xz = try tar(try tree("zig", ["\(top)/zig": Self.script("zig", v)]), xz: true)
            server.put("/zig/\(v)/\(top).tar.xz", xz)
            entries.append(
                #""\#(v)":{"date":"2025-05-21","x86_64-linux":{"tarball":"https://ziglang.org/download/\#(v)/\#(top).tar.xz","shasum":"\#(Hex.sha256(xz))","size":"\#(xz.count)"}}"#
            )
        }
        server.put("/zig/index.json", "{" + entries.joined(separator: ",\n") + "}")
    }

    /// A GitHub release listing entry: the tag and its assets as `github.com/<repo>/releases/download` URLs.
    private static func release(_ repo: String, tag: String, assets: [(name: String, size: Int)]) -> String {
        let list = assets.map {
            #"{"name":"\#($0.name)","browser_download_url":"https://github.com/\#(repo)/releases/download/\#(tag)/\#($0.name)","size":\#($0.size)}"#
        }
        return
            #"{"tag_name":"\#(tag)","prerelease":false,"draft":false,"published_at":"2025-06-05T12:00:00Z","assets":[\#(list.joined(separator: ","))]}"#
    }

    private func gleam(_ versions: [String]) throws {
        var releases: [String] = []
        for v in versions {
            let name = "gleam-v\(v)-x86_64-unknown-linux-musl.tar.gz"
            let gz = try tar(try tree("gleam", ["gleam": Self.script("gleam", v)]), xz: false)
            let sum = "\(Hex.sha256(gz))  \(name)\n"
            server.put("/gleam/releases/download/v\(v)/\(name)", gz)
            server.put("/gleam/releases/download/v\(v)/\(name).sha256", sum)
            releases.append(
                Self.release(
                    "gleam-lang/gleam", tag: "v\(v)", assets: [(name, gz.count), (name + ".sha256", sum.utf8.count)]))
        }
        server.put("/gleam/releases?per_page=100", "[" + releases.joined(separator: ",\n") + "]")
    }

    private func dart(_ versions: [String]) throws {
        for v in versions {
            let name = "dartsdk-linux-x64-release.zip"
            let z = try zip(
                try tree("dart", ["dart-sdk/bin/dart": Self.script("dart", v), "dart-sdk/version": v + "\n"]))
            let dir = "/dart/dart-archive/channels/stable/release/\(v)/sdk"
            server.put("\(dir)/\(name)", z)
            server.put("\(dir)/\(name).sha256sum", "\(Hex.sha256(z)) *\(name)\n")
        }
        let prefixes = (versions + ["latest"]).map { #""channels/stable/release/\#($0)/""# }
        server.put(
            "/dart/storage/v1/b/dart-archive/o?prefix=channels/stable/release/&delimiter=/",
            #"{"kind":"storage#objects","prefixes":[\#(prefixes.joined(separator: ","))]}"#)
    }

    private func sbt(_ versions: [String]) throws {
        var releases: [String] = []
        for v in versions {
            let name = "sbt-\(v).tgz"
            let gz = try tar(
                try tree("sbt", ["sbt/bin/sbt": Self.script("sbt", v), "sbt/conf/sbtopts": "# sbtopts\n"]), xz: false)
            let sum = "\(Hex.sha256(gz))  \(name)\n"
            server.put("/sbt/releases/download/v\(v)/\(name)", gz)
            server.put("/sbt/releases/download/v\(v)/\(name).sha256", sum)
            releases.append(
                Self.release("sbt/sbt", tag: "v\(v)", assets: [(name, gz.count), (name + ".sha256", sum.utf8.count)]))
        }
        server.put("/sbt/releases?per_page=100", "[" + releases.joined(separator: ",\n") + "]")
    }

    /// swift.org: `api/v1/install/releases.json` and, under `download/`, each release's debian12 tarball (top
    /// directory `swift-<V>-RELEASE-debian12/usr/bin/swift`) with its detached signature; `withoutDebian12` is
    /// listed with only an Ubuntu build (not installable here).
    private func swift(_ versions: [String], withoutDebian12 old: String) throws {
        var entries: [String] = []
        for v in versions {
            let top = "swift-\(v)-RELEASE-debian12"
            let gz = try tar(try tree("swift", ["\(top)/usr/bin/swift": Self.script("swift", v)]), xz: false)
            let path = "/swift/download/swift-\(v)-release/debian12/swift-\(v)-RELEASE/\(top).tar.gz"
            server.put(path, gz)
            server.put(path + ".sig", try signer.sign(gz))
            entries.append(
                #"{"name":"\#(v)","tag":"swift-\#(v)-RELEASE","xcode":"Xcode 16","date":"2025-06-05","platforms":[{"name":"Ubuntu 24.04","platform":"Linux","docker":"\#(v)-noble","archs":["x86_64","aarch64"]},{"name":"Debian 12","platform":"Linux","docker":"\#(v)-bookworm","dir":"debian12","archs":["x86_64","aarch64"]}]}"#
            )
        }
        entries.append(
            #"{"name":"\#(old)","tag":"swift-\#(old)-RELEASE","date":"2023-12-11","platforms":[{"name":"Ubuntu 22.04","platform":"Linux","dir":"ubuntu2204","archs":["x86_64"]}]}"#
        )
        server.put("/swift/api/v1/install/releases.json", "[" + entries.reversed().joined(separator: ",\n") + "]")
    }
}

/// A throwaway OpenPGP key made with gpg in its own home directory (no passphrase, ed25519), for signing
/// stand-in downloads the way swift.org signs its toolchains (detached binary `.sig`).
final class OpenPGPSigner: @unchecked Sendable {
    let home: String
    var keyring: String { home + "/pubring-export.gpg" }

    init(_ home: String, name: String = "ociforge test signer <signer@ociforge.invalid>") throws {
        self.home = home
        try FileManager.default.createDirectory(
            atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try Self.gpg(home, ["--quick-gen-key", name, "ed25519", "sign", "never"])
        try Self.gpg(home, ["--output", keyring, "--export"])
    }

    deinit {
        _ = runOutput("/usr/bin/gpgconf", ["--homedir", home, "--kill", "all"])
    }

    /// The detached binary signature of `bytes`.
    func sign(_ bytes: [UInt8]) throws -> [UInt8] {
        let file = home + "/to-sign-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        try Self.gpg(home, ["--output", file + ".sig", "--detach-sign", file])
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: file + ".sig")))
    }

    static func gpg(_ home: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/gpg")
        p.arguments =
            ["--batch", "--quiet", "--homedir", home, "--passphrase", "", "--pinentry-mode", "loopback"] + args
        p.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C", "GNUPGHOME": home]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw POSIXError(.EIO) }
    }
}
