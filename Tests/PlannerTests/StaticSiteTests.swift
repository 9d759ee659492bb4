import Foundation
import Testing

@testable import Planner

@Suite("Static sites and Node server frameworks")
struct StaticSiteTests {
    /// Every generated Caddyfile in the fixtures is accepted by Debian's caddy (`caddy adapt`).
    @Test("generated Caddyfiles are valid for caddy", arguments: FixtureSupport.names)
    func caddyAccepts(name: String) throws {
        let (text, isError) = try FixtureSupport.render(name)
        guard !isError else { return }
        let plan = try JSONDecoder().decode(ResolvedPlan.self, from: Data(text.utf8))
        guard let caddyfile = plan.staticAssets["Caddyfile"] else { return }
        let caddy = "/usr/bin/caddy"
        try #require(
            FileManager.default.isExecutableFile(atPath: caddy), "caddy is not installed (scripts/install-deps)")
        let file = NSTemporaryDirectory() + "ociforge-caddy-\(UUID().uuidString)"
        try caddyfile.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: caddy)
        p.arguments = ["adapt", "--config", file, "--adapter", "caddyfile"]
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(name): \(message)")
    }

    @Test("SPA outputs fall back to index.html, multi-page outputs try .html files")
    func fallback() {
        let spa = StaticSite(framework: .vite, root: "dist", spa: true).caddyfile()
        #expect(spa.contains("\ttry_files {path} /index.html\n") && spa.contains("root * /app/dist\n"))
        #expect(spa.contains(":{$PORT:8080} {") && spa.contains("encode zstd gzip"))
        let mpa = StaticSite(framework: .astro, root: "dist", spa: false).caddyfile()
        #expect(
            mpa.contains("try_files {path} {path}.html {path}/index.html") && mpa.contains("@immutable path /_astro/*"))
    }

    @Test("a custom start script is kept; a dev-server start script does not stop static serving")
    func startScripts() throws {
        let custom = try TempApp([
            "package.json":
                #"{"scripts":{"build":"vite build","start":"node server.js"},"devDependencies":{"vite":"5"}}"#
        ])
        #expect(
            try Planner.plan(appDirectory: custom.path, options: PlanOptions()).plan.deploy?.startCommand
                == "npm run start")
        let dev = try TempApp([
            "package.json": #"{"scripts":{"build":"vite build","start":"vite"},"devDependencies":{"vite":"5"}}"#
        ])
        let deploy = try #require(try Planner.plan(appDirectory: dev.path, options: PlanOptions()).plan.deploy)
        #expect(
            deploy.startCommand == "caddy run --config /assets/Caddyfile --adapter caddyfile"
                && deploy.aptPackages == ["caddy"])
        var options = PlanOptions()
        options.environment = ["OCIFORGE_STATIC_DIR": "../x"]
        #expect(throws: PlannerError.self) { try Planner.plan(appDirectory: dev.path, options: options) }
    }
}
