import Foundation
import OCIWriter

@testable import Toolchains

/// Every channel's real index and checksum formats served from a `LoopbackServer`, with archives built by the
/// test holding a small executable per tool (a shell script printing its version). One release per tool has an
/// archive; the others exist only in the index (listing and matching). Platform: linux/amd64.
final class ChannelMirror: @unchecked Sendable {
    let server: LoopbackServer
    let builder: ArchiveBuilder
    let state: String
    /// Archive path on the server per tool.
    var archivePath: [ToolKind: String] = [:]
    var archives: [ToolKind: [UInt8]] = [:]
    var runtimeArchives: [ToolKind: [UInt8]] = [:]

    var base: String { server.base }

    var settings: ChannelSettings {
        var s = ChannelSettings()
        for e in ChannelEndpoint.allCases { s[e] = URL(string: "\(base)/\(e.rawValue)")! }
        return s
    }

    func installer(maxDownloadBytes: Int64 = 1 << 30) -> ToolchainInstaller {
        ToolchainInstaller(
            channels: ToolchainChannels(settings: settings), stateDirectory: state,
            maxDownloadBytes: maxDownloadBytes)
    }

    /// A staging path that does not exist yet.
    func stagingPath() -> String { builder.dir + "/staging-\(UUID().uuidString)" }

    /// Files in the blob cache.
    func cachedBlobs() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: state + "/toolchains/blobs/sha256")) ?? []
    }

    init() throws {
        server = try LoopbackServer()
        builder = try ArchiveBuilder()
        state = builder.dir + "/state"
        try node()
        try go()
        try zig()
        try rust()
        try java()
        try dotnet()
        try deno()
        try bun()
        try python()
        try ruby()
        try gleam()
        try dart()
        try sbt()
    }

    deinit {
        server.stop()
        builder.cleanup()
    }

    static func script(_ output: String) -> String { "#!/bin/sh\necho '\(output)'\n" }

    private func serve(_ tool: ToolKind, _ path: String, _ bytes: [UInt8]) {
        server.put(path, bytes)
        archivePath[tool] = path
        archives[tool] = bytes
    }

    private func node() throws {
        let root = try builder.tree(
            "node",
            files: [
                "node-v24.1.0-linux-x64/bin/node": Self.script("v24.1.0"),
                "node-v24.1.0-linux-x64/lib/node_modules/npm/bin/npm-cli.js": Self.script("10.9.2")
            ], links: ["node-v24.1.0-linux-x64/bin/npm": "../lib/node_modules/npm/bin/npm-cli.js"])
        let xz = try builder.tar(root, compression: "J")
        serve(.node, "/node/v24.1.0/node-v24.1.0-linux-x64.tar.xz", xz)
        server.put(
            "/node/v24.1.0/SHASUMS256.txt",
            """
            \(String(repeating: "a", count: 64))  node-v24.1.0-darwin-arm64.tar.gz
            \(Hex.sha256(xz))  node-v24.1.0-linux-x64.tar.xz
            \(String(repeating: "b", count: 64))  node-v24.1.0.tar.gz

            """)
        server.put(
            "/node/index.json",
            """
            [{"version":"v24.1.0","date":"2025-05-08","files":["headers","linux-arm64","linux-x64","osx-arm64-tar"],"npm":"11.3.0","v8":"13.6","uv":"1.50.0","zlib":"1.3","openssl":"3.0.15","modules":"137","lts":"Krypton","security":false},
             {"version":"v23.11.0","date":"2025-04-01","files":["linux-x64","win-x64-zip"],"npm":"10.9.2","lts":false,"security":false},
             {"version":"v22.12.0","date":"2024-12-03","files":["linux-x64"],"npm":"10.9.0","lts":"Jod","security":false},
             {"version":"v20.18.1","date":"2024-11-20","files":["linux-arm64","win-x86-zip"],"npm":"10.8.2","lts":"Iron","security":true}]
            """)
    }

    private func go() throws {
        let root = try builder.tree(
            "go",
            files: [
                "go/bin/go": Self.script("go version go1.23.4 linux/amd64"),
                "go/VERSION": "go1.23.4\n"
            ])
        let gz = try builder.tar(root, compression: "z")
        serve(.go, "/go/go1.23.4.linux-amd64.tar.gz", gz)
        server.put(
            "/go/?mode=json&include=all",
            """
            [{"version":"go1.24rc1","stable":false,"files":[{"filename":"go1.24rc1.linux-amd64.tar.gz","os":"linux","arch":"amd64","version":"go1.24rc1","sha256":"\(String(repeating: "c", count: 64))","size":1,"kind":"archive"}]},
             {"version":"go1.23.4","stable":true,"files":[
               {"filename":"go1.23.4.src.tar.gz","os":"","arch":"","version":"go1.23.4","sha256":"\(String(repeating: "d", count: 64))","size":2,"kind":"source"},
               {"filename":"go1.23.4.darwin-arm64.tar.gz","os":"darwin","arch":"arm64","version":"go1.23.4","sha256":"\(String(repeating: "e", count: 64))","size":3,"kind":"archive"},
               {"filename":"go1.23.4.linux-amd64.tar.gz","os":"linux","arch":"amd64","version":"go1.23.4","sha256":"\(Hex.sha256(gz))","size":\(gz.count),"kind":"archive"}]}]
            """)
    }

    private func zig() throws {
        let root = try builder.tree(
            "zig",
            files: [
                "zig-x86_64-linux-0.14.1/zig": Self.script("0.14.1"),
                "zig-x86_64-linux-0.14.1/lib/std/std.zig": "pub const x = 1;\n"
            ])
        let xz = try builder.tar(root, compression: "J")
        serve(.zig, "/zig/0.14.1/zig-x86_64-linux-0.14.1.tar.xz", xz)
        server.put(
            "/zig/index.json",
            """
            {"master":{"version":"0.15.0-dev.1+abc","date":"2025-06-01","x86_64-linux":{"tarball":"https://ziglang.org/builds/zig-x86_64-linux-0.15.0-dev.1+abc.tar.xz","shasum":"\(String(repeating: "f", count: 64))","size":"100"}},
             "0.14.1":{"date":"2025-05-21","docs":"https://ziglang.org/documentation/0.14.1/","src":{"tarball":"x","shasum":"y","size":"1"},
               "x86_64-linux":{"tarball":"https://ziglang.org/download/0.14.1/zig-x86_64-linux-0.14.1.tar.xz","shasum":"\(Hex.sha256(xz))","size":"\(xz.count)"},
               "aarch64-macos":{"tarball":"https://ziglang.org/download/0.14.1/zig-aarch64-macos-0.14.1.tar.xz","shasum":"\(String(repeating: "0", count: 64))","size":"5"}},
             "0.13.0":{"date":"2024-06-07","aarch64-linux":{"tarball":"https://ziglang.org/download/0.13.0/zig-linux-aarch64-0.13.0.tar.xz","shasum":"\(String(repeating: "1", count: 64))","size":"7"}}}
            """)
    }

    private func rust() throws {
        let t = "x86_64-unknown-linux-gnu"
        var table = ""
        for (name, dir, files) in [
            (
                "rustc", "rustc",
                [
                    "rustc/bin/rustc": Self.script("rustc 1.78.0 (9b00956e5 2024-04-29)"),
                    "rustc/manifest.in": "file:bin/rustc\n"
                ]
            ),
            (
                "cargo", "cargo",
                [
                    "cargo/bin/cargo": Self.script("cargo 1.78.0 (54d8815d0 2024-03-26)"),
                    "cargo/manifest.in": "file:bin/cargo\n"
                ]
            ),
            (
                "rust-std", "rust-std-\(t)",
                [
                    "rust-std-\(t)/lib/rustlib/\(t)/lib/libstd.rlib": "rlib\n",
                    "rust-std-\(t)/manifest.in": "dir:lib/rustlib/\(t)/lib\n"
                ]
            )
        ] {
            let top = "\(name)-1.78.0-\(t)"
            var tree: [String: String] = [
                "\(top)/components": dir + "\n", "\(top)/install.sh": "#!/bin/sh\nexit 1\n",
                "\(top)/rust-installer-version": "3\n"
            ]
            for (k, v) in files { tree["\(top)/\(k)"] = v }
            let xz = try builder.tar(try builder.tree(name, files: tree), compression: "J")
            let path = "/rust/dist/2024-05-02/\(top).tar.xz"
            server.put(path, xz)
            if name == "rustc" {
                archivePath[.rust] = path
                archives[.rust] = xz
            }
            table += """

                [pkg.\(name)]
                version = "1.78.0 (9b00956e5 2024-04-29)"

                [pkg.\(name).target.\(t)]
                available = true
                url = "https://static.rust-lang.org/dist/2024-05-02/\(top).tar.gz"
                hash = "\(String(repeating: "9", count: 64))"
                xz_url = "https://static.rust-lang.org/dist/2024-05-02/\(top).tar.xz"
                xz_hash = "\(Hex.sha256(xz))"

                [pkg.\(name).target.aarch64-apple-darwin]
                available = false

                """
        }
        let manifest = """
            date = "2024-05-02"
            manifest-version = "2"
            [pkg.rust]
            version = "1.78.0 (9b00956e5 2024-04-29)"
            [pkg.rust.target.\(t)]
            available = true
            [[pkg.rust.target.\(t).components]]
            pkg = "rustc"
            target = "\(t)"
            [profiles]
            minimal = [
                "rustc",
                "cargo",
                "rust-std",
            ]
            [renames.rls]
            to = "rls-preview"
            """ + table
        server.put("/rust/dist/channel-rust-1.78.0.toml", manifest)
        server.put("/rust/dist/channel-rust-stable.toml", manifest)
    }

    private func java() throws {
        let root = try builder.tree(
            "java",
            files: [
                "jdk-21.0.5+11/bin/java": Self.script("openjdk version \"21.0.5\" 2024-10-15 LTS"),
                "jdk-21.0.5+11/release": "JAVA_VERSION=\"21.0.5\"\n"
            ])
        let gz = try builder.tar(root, compression: "z")
        let path = "/java-binaries/OpenJDK21U-jdk_x64_linux_hotspot_21.0.5_11.tar.gz"
        serve(.java, path, gz)
        server.put(
            "/java/v3/info/available_releases",
            """
            {"available_lts_releases":[8,11,17,21],"available_releases":[8,11,17,21,23],"most_recent_feature_release":23,"most_recent_feature_version":24,"most_recent_lts":21,"tip_version":25}
            """)
        let q = "hotspot?architecture=x64&image_type=jdk&os=linux&vendor=eclipse"
        server.put(
            "/java/v3/assets/latest/21/\(q)",
            """
            [{"binary":{"architecture":"x64","download_count":1,"heap_size":"normal","image_type":"jdk","jvm_impl":"hotspot","os":"linux","package":{"checksum":"\(Hex.sha256(gz))","checksum_link":"\(base)\(path).sha256.txt","download_count":1,"link":"\(base)\(path)","name":"OpenJDK21U-jdk_x64_linux_hotspot_21.0.5_11.tar.gz","size":\(gz.count)},"project":"jdk","updated_at":"2024-10-16T00:00:00Z"},"release_link":"x","release_name":"jdk-21.0.5+11","vendor":"eclipse","version":{"build":11,"major":21,"minor":0,"openjdk_version":"21.0.5+11-LTS","security":5,"semver":"21.0.5+11.0.LTS"}}]
            """)
        server.put(
            "/java/v3/assets/latest/17/\(q)",
            """
            [{"binary":{"architecture":"x64","image_type":"jdk","os":"linux","package":{"checksum":"\(String(repeating: "2", count: 64))","link":"\(base)/java-binaries/OpenJDK17U-jdk_x64_linux_hotspot_17.0.13_11.tar.gz","name":"OpenJDK17U-jdk_x64_linux_hotspot_17.0.13_11.tar.gz","size":10}},"release_name":"jdk-17.0.13+11","version":{"build":11,"major":17,"minor":0,"security":13}}]
            """)
        for f in [8, 11, 23] { server.put("/java/v3/assets/latest/\(f)/\(q)", "[]") }

        // The JRE of 21 (runtime flavor); the other features answer 404 (skipped).
        let jre = try builder.tar(
            try builder.tree(
                "jre", files: ["jdk-21.0.5+11-jre/bin/java": Self.script("openjdk version \"21.0.5\" JRE")]),
            compression: "z")
        let jrePath = "/java-binaries/OpenJDK21U-jre_x64_linux_hotspot_21.0.5_11.tar.gz"
        server.put(jrePath, jre)
        runtimeArchives[.java] = jre
        server.put(
            "/java/v3/assets/latest/21/hotspot?architecture=x64&image_type=jre&os=linux&vendor=eclipse",
            """
            [{"binary":{"architecture":"x64","image_type":"jre","os":"linux","package":{"checksum":"\(Hex.sha256(jre))","link":"\(base)\(jrePath)","name":"OpenJDK21U-jre_x64_linux_hotspot_21.0.5_11.tar.gz","size":\(jre.count)}},"release_name":"jdk-21.0.5+11","version":{"build":11,"major":21,"minor":0,"security":5}}]
            """)
    }

    private func dotnet() throws {
        let root = try builder.tree(
            "dotnet",
            files: [
                "dotnet": Self.script("8.0.404"), "sdk/8.0.404/dotnet.dll": "dll\n",
                "LICENSE.txt": "MIT\n"
            ])
        let gz = try builder.tar(root, compression: "z", entries: ["."])
        let path = "/dotnet/dotnet/Sdk/8.0.404/dotnet-sdk-8.0.404-linux-x64.tar.gz"
        serve(.dotnet, path, gz)
        let rt = try builder.tar(
            try builder.tree(
                "aspnet",
                files: [
                    "dotnet": Self.script("Microsoft.AspNetCore.App 8.0.11"),
                    "shared/Microsoft.NETCore.App/8.0.11/System.dll": "dll\n"
                ]),
            compression: "z", entries: ["."])
        server.put("/dotnet/dotnet/aspnetcore/Runtime/8.0.11/aspnetcore-runtime-8.0.11-linux-x64.tar.gz", rt)
        runtimeArchives[.dotnet] = rt
        server.put(
            "/dotnet/dotnet/release-metadata/releases-index.json",
            """
            {"releases-index":[{"channel-version":"9.0","latest-release":"9.0.0","latest-release-date":"2024-11-12","security":false,"latest-runtime":"9.0.0","latest-sdk":"9.0.100","product":".NET","support-phase":"active","eol-date":"2026-05-12","release-type":"sts","releases.json":"https://builds.dotnet.microsoft.com/dotnet/release-metadata/9.0/releases.json"},
             {"channel-version":"8.0","latest-release":"8.0.11","latest-sdk":"8.0.404","support-phase":"active","release-type":"lts","releases.json":"https://builds.dotnet.microsoft.com/dotnet/release-metadata/8.0/releases.json"}]}
            """)
        server.put(
            "/dotnet/dotnet/release-metadata/9.0/releases.json",
            """
            {"channel-version":"9.0","releases":[{"release-date":"2024-11-12","release-version":"9.0.0","sdk":{"version":"9.0.100","files":[{"name":"dotnet-sdk-linux-x64.tar.gz","rid":"linux-x64","url":"https://builds.dotnet.microsoft.com/dotnet/Sdk/9.0.100/dotnet-sdk-9.0.100-linux-x64.tar.gz","hash":"\(String(repeating: "3", count: 128))"}]}}]}
            """)
        server.put(
            "/dotnet/dotnet/release-metadata/8.0/releases.json",
            """
            {"channel-version":"8.0","releases":[{"release-date":"2024-11-12","release-version":"8.0.11",
              "sdk":{"version":"8.0.404","files":[]},
              "runtime":{"version":"8.0.11","files":[{"name":"dotnet-runtime-linux-x64.tar.gz","rid":"linux-x64","url":"https://builds.dotnet.microsoft.com/dotnet/Runtime/8.0.11/dotnet-runtime-8.0.11-linux-x64.tar.gz","hash":"\(String(repeating: "7", count: 128))"}]},
              "aspnetcore-runtime":{"version":"8.0.11","files":[
                {"name":"aspnetcore-runtime-linux-x64.zip","rid":"linux-x64","url":"https://x/y.zip","hash":"\(String(repeating: "8", count: 128))"},
                {"name":"aspnetcore-runtime-linux-x64.tar.gz","rid":"linux-x64","url":"https://builds.dotnet.microsoft.com/dotnet/aspnetcore/Runtime/8.0.11/aspnetcore-runtime-8.0.11-linux-x64.tar.gz","hash":"\(try Hex.sha512(rt))"}]},
              "sdks":[{"version":"8.0.404","files":[
                {"name":"dotnet-sdk-linux-arm64.tar.gz","rid":"linux-arm64","url":"https://builds.dotnet.microsoft.com/dotnet/Sdk/8.0.404/dotnet-sdk-8.0.404-linux-arm64.tar.gz","hash":"\(String(repeating: "4", count: 128))"},
                {"name":"dotnet-sdk-linux-x64.tar.gz","rid":"linux-x64","url":"https://builds.dotnet.microsoft.com/dotnet/Sdk/8.0.404/dotnet-sdk-8.0.404-linux-x64.tar.gz","hash":"\(try Hex.sha512(gz))"},
                {"name":"dotnet-sdk-linux-x64.zip","rid":"linux-x64","url":"https://x/y.zip","hash":"\(String(repeating: "5", count: 128))"}]},
               {"version":"8.0.307","files":[{"name":"dotnet-sdk-linux-x64.tar.gz","rid":"linux-x64","url":"https://builds.dotnet.microsoft.com/dotnet/Sdk/8.0.307/dotnet-sdk-8.0.307-linux-x64.tar.gz","hash":"\(String(repeating: "6", count: 128))"}]}]}]}
            """)
    }

    private func deno() throws {
        let root = try builder.tree(
            "deno", files: ["deno": Self.script("deno 2.1.4 (stable, release, x86_64-unknown-linux-gnu)")])
        let zip = try builder.zip(root)
        let path = "/deno/release/v2.1.4/deno-x86_64-unknown-linux-gnu.zip"
        serve(.deno, path, zip)
        server.put(path + ".sha256sum", "\(Hex.sha256(zip))  deno-x86_64-unknown-linux-gnu.zip\n")
        server.put("/deno-index/versions.json", #"{"cli":["v2.1.4","v2.0.0","v1.46.3"]}"#)
    }

    private func bun() throws {
        let root = try builder.tree("bun", files: ["bun-linux-x64/bun": Self.script("1.1.38")])
        let zip = try builder.zip(root)
        let dl = "/bun-dl/bun-v1.1.38"
        serve(.bun, dl + "/bun-linux-x64.zip", zip)
        server.put(
            dl + "/SHASUMS256.txt",
            "\(String(repeating: "7", count: 64))  bun-linux-aarch64.zip\n\(Hex.sha256(zip))  bun-linux-x64.zip\n")
        server.put(
            "/bun/releases?per_page=100",
            """
            [{"tag_name":"canary","prerelease":true,"assets":[{"name":"bun-linux-x64.zip","browser_download_url":"\(base)/bun-dl/canary/bun-linux-x64.zip","size":1}]},
             {"tag_name":"bun-v1.1.38","prerelease":false,"draft":false,"published_at":"2024-11-29T08:00:00Z","assets":[
               {"name":"bun-linux-aarch64.zip","browser_download_url":"\(base)\(dl)/bun-linux-aarch64.zip","size":2},
               {"name":"bun-linux-x64.zip","browser_download_url":"\(base)\(dl)/bun-linux-x64.zip","size":\(zip.count)},
               {"name":"SHASUMS256.txt","browser_download_url":"\(base)\(dl)/SHASUMS256.txt","size":100}]}]
            """)
    }

    private func python() throws {
        let root = try builder.tree(
            "python",
            files: [
                "python/bin/python3.13": Self.script("Python 3.13.0"),
                "python/lib/python3.13/os.py": "# os\n"
            ],
            links: ["python/bin/python3": "python3.13"])
        let gz = try builder.tar(root, compression: "z")
        let t = "x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
        let dl = "/python-dl/20241016"
        serve(.python, "\(dl)/cpython-3.13.0%2B20241016-\(t)", gz)
        server.put(
            "\(dl)/SHA256SUMS",
            """
            \(String(repeating: "8", count: 64))  cpython-3.12.7+20241016-\(t)
            \(Hex.sha256(gz))  cpython-3.13.0+20241016-\(t)

            """)
        func asset(_ name: String, _ rel: String, _ size: Int) -> String {
            #"{"name":"\#(name)","browser_download_url":"\#(base)/python-dl/\#(rel)/\#(name.replacingOccurrences(of: "+", with: "%2B"))","size":\#(size)}"#
        }
        server.put(
            "/python/releases?per_page=10",
            """
            [{"tag_name":"20241016","prerelease":false,"assets":[\(asset("cpython-3.13.0+20241016-\(t)", "20241016", gz.count)),
              \(asset("cpython-3.12.7+20241016-\(t)", "20241016", 10)), \(asset("cpython-3.12.7+20241016-x86_64-unknown-linux-gnu-install_only.tar.gz", "20241016", 11)),
              \(asset("cpython-3.12.7+20241016-aarch64-unknown-linux-gnu-install_only_stripped.tar.gz", "20241016", 12)),
              \(asset("SHA256SUMS", "20241016", 300))]},
             {"tag_name":"20241008","prerelease":false,"assets":[\(asset("cpython-3.12.7+20241008-\(t)", "20241008", 10)),
              \(asset("cpython-3.11.10+20241008-\(t)", "20241008", 10)), \(asset("SHA256SUMS", "20241008", 300))]}]
            """)
    }

    private func ruby() throws {
        let root = try builder.tree(
            "ruby",
            files: [
                "ruby-3.3.6/bin/ruby": Self.script("ruby 3.3.6 (2024-11-05 revision 75015d4c1f) [x86_64-linux]"),
                "ruby-3.3.6/lib/ruby/3.3.0/set.rb": "# set\n"
            ])
        let gz = try builder.tar(root, compression: "z")
        let dl = "/ruby-dl/3.3.6-1"
        serve(.ruby, dl + "/ruby-3.3.6.x86_64_linux.tar.gz", gz)
        server.put(
            "/ruby/releases?per_page=100",
            """
            [{"tag_name":"3.4.1","prerelease":false,"published_at":"2024-12-26T00:00:00Z","assets":[
               {"name":"ruby-3.4.1.x86_64_linux.tar.gz","browser_download_url":"\(base)/ruby-dl/3.4.1/ruby-3.4.1.x86_64_linux.tar.gz","size":5}]},
             {"tag_name":"3.3.6-1","prerelease":false,"published_at":"2024-11-20T00:00:00Z","assets":[
               {"name":"ruby-3.3.6.arm64_linux.tar.gz","browser_download_url":"\(base)\(dl)/ruby-3.3.6.arm64_linux.tar.gz","size":6,"digest":"sha256:\(String(repeating: "a", count: 64))"},
               {"name":"ruby-3.3.6.x86_64_linux.tar.gz","browser_download_url":"\(base)\(dl)/ruby-3.3.6.x86_64_linux.tar.gz","size":\(gz.count),"digest":"sha256:\(Hex.sha256(gz))"}]},
             {"tag_name":"3.3.6","prerelease":false,"published_at":"2024-11-06T00:00:00Z","assets":[
               {"name":"ruby-3.3.6.x86_64_linux.tar.gz","browser_download_url":"\(base)/ruby-dl/3.3.6/ruby-3.3.6.x86_64_linux.tar.gz","size":7,"digest":"sha256:\(String(repeating: "b", count: 64))"},
               {"name":"ruby-3.3.6.macos.tar.gz","browser_download_url":"\(base)/ruby-dl/3.3.6/ruby-3.3.6.macos.tar.gz","size":8,"digest":"sha256:\(String(repeating: "c", count: 64))"}]},
             {"tag_name":"3.2.6","prerelease":false,"assets":[
               {"name":"ruby-3.2.6.x86_64_linux.tar.gz","browser_download_url":"\(base)/ruby-dl/3.2.6/ruby-3.2.6.x86_64_linux.tar.gz","size":9,"digest":"sha256:\(String(repeating: "d", count: 64))"}]}]
            """)
    }
    /// gleam-lang/gleam releases: `v1.11.1` (with `.sha256`), a release candidate, `v1.10.0` with only an aarch64
    /// build, and `v1.9.1` whose archive has no checksum asset (not listed).
    private func gleam() throws {
        let root = try builder.tree("gleam", files: ["gleam": Self.script("gleam 1.11.1")])
        let gz = try builder.tar(root, compression: "z")
        let name = "gleam-v1.11.1-x86_64-unknown-linux-musl.tar.gz"
        let dl = "/gleam-dl/v1.11.1"
        serve(.gleam, "\(dl)/\(name)", gz)
        server.put("\(dl)/\(name).sha256", "\(Hex.sha256(gz))  \(name)\n")
        func asset(_ tag: String, _ name: String, _ size: Int) -> String {
            #"{"name":"\#(name)","browser_download_url":"\#(base)/gleam-dl/\#(tag)/\#(name)","size":\#(size)}"#
        }
        let rc = "gleam-v1.12.0-rc1-x86_64-unknown-linux-musl.tar.gz"
        let arm = "gleam-v1.10.0-aarch64-unknown-linux-musl.tar.gz"
        let old = "gleam-v1.9.1-x86_64-unknown-linux-musl.tar.gz"
        server.put(
            "/gleam/releases?per_page=100",
            """
            [{"tag_name":"v1.12.0-rc1","prerelease":true,"published_at":"2025-07-01T00:00:00Z","assets":[\(asset("v1.12.0-rc1", rc, 3)),\(asset("v1.12.0-rc1", rc + ".sha256", 100))]},
             {"tag_name":"v1.11.1","prerelease":false,"draft":false,"published_at":"2025-06-05T12:00:00Z","assets":[
               \(asset("v1.11.1", "gleam-v1.11.1-aarch64-unknown-linux-musl.tar.gz", 4)),
               \(asset("v1.11.1", "gleam-v1.11.1-aarch64-unknown-linux-musl.tar.gz.sha256", 100)),
               \(asset("v1.11.1", name, gz.count)), \(asset("v1.11.1", name + ".sha256", 100)),
               \(asset("v1.11.1", name + ".sha512", 164)), \(asset("v1.11.1", "gleam-v1.11.1-x86_64-apple-darwin.tar.gz", 5))]},
             {"tag_name":"v1.10.0","prerelease":false,"assets":[\(asset("v1.10.0", arm, 6)),\(asset("v1.10.0", arm + ".sha256", 100))]},
             {"tag_name":"v1.9.1","prerelease":false,"assets":[\(asset("v1.9.1", old, 7))]}]
            """)
    }

    /// The dart-archive bucket: two listing pages (versions, an SVN revision directory and `latest/`), the
    /// 3.5.4 SDK zip and its `.sha256sum` (`<hex> *<name>`).
    private func dart() throws {
        let root = try builder.tree(
            "dart",
            files: [
                "dart-sdk/bin/dart": Self.script("Dart SDK version: 3.5.4 (stable)"),
                "dart-sdk/version": "3.5.4\n"
            ])
        let zip = try builder.zip(root)
        let name = "dartsdk-linux-x64-release.zip"
        let dir = "/dart/dart-archive/channels/stable/release/3.5.4/sdk"
        serve(.dart, "\(dir)/\(name)", zip)
        server.put("\(dir)/\(name).sha256sum", "\(Hex.sha256(zip)) *\(name)\n")
        let list = "/dart/storage/v1/b/dart-archive/o?prefix=channels/stable/release/&delimiter=/"
        server.put(
            list,
            """
            {"kind":"storage#objects","prefixes":["channels/stable/release/1.24.3/","channels/stable/release/30188/","channels/stable/release/3.4.4/"],"nextPageToken":"CgYzLjQuNC8="}
            """)
        server.put(
            list + "&pageToken=CgYzLjQuNC8%3D",
            """
            {"kind":"storage#objects","prefixes":["channels/stable/release/3.5.4/","channels/stable/release/latest/"]}
            """)
    }

    /// sbt/sbt releases: `v1.10.7` (`.tgz.sha256`), `v1.10.6` verified by the asset `digest` only, `v1.9.9` with
    /// no checksum at all (not listed), and an RC.
    private func sbt() throws {
        let root = try builder.tree(
            "sbt",
            files: [
                "sbt/bin/sbt": Self.script("sbt runner version: 1.10.7"),
                "sbt/conf/sbtopts": "# sbtopts\n"
            ])
        let gz = try builder.tar(root, compression: "z")
        let dl = "/sbt-dl/v1.10.7"
        serve(.sbt, "\(dl)/sbt-1.10.7.tgz", gz)
        server.put("\(dl)/sbt-1.10.7.tgz.sha256", "\(Hex.sha256(gz))  sbt-1.10.7.tgz\n")
        func asset(_ tag: String, _ name: String, _ size: Int, digest: String? = nil) -> String {
            let d = digest.map { #","digest":"sha256:\#($0)""# } ?? ""
            return
                #"{"name":"\#(name)","browser_download_url":"\#(base)/sbt-dl/\#(tag)/\#(name)","size":\#(size)\#(d)}"#
        }
        server.put(
            "/sbt/releases?per_page=100",
            """
            [{"tag_name":"v1.11.0-RC1","prerelease":true,"assets":[\(asset("v1.11.0-RC1", "sbt-1.11.0-RC1.tgz", 1)),\(asset("v1.11.0-RC1", "sbt-1.11.0-RC1.tgz.sha256", 80))]},
             {"tag_name":"v1.10.7","prerelease":false,"published_at":"2024-12-23T00:00:00Z","assets":[
               \(asset("v1.10.7", "sbt-1.10.7.msi", 2)), \(asset("v1.10.7", "sbt-1.10.7.tgz", gz.count)),
               \(asset("v1.10.7", "sbt-1.10.7.tgz.asc", 3)), \(asset("v1.10.7", "sbt-1.10.7.tgz.sha256", 80)),
               \(asset("v1.10.7", "sbt-1.10.7.zip", 4))]},
             {"tag_name":"v1.10.6","prerelease":false,"assets":[\(asset("v1.10.6", "sbt-1.10.6.tgz", 5, digest: String(repeating: "6", count: 64)))]},
             {"tag_name":"v1.9.9","prerelease":false,"assets":[\(asset("v1.9.9", "sbt-1.9.9.tgz", 6))]}]
            """)
    }
}
