import Foundation
import Testing

/// Issue 13: a uv workspace (`[tool.uv.workspace] members`, one uv.lock) built for one member: third-party
/// dependencies from PyPI (`uv sync --frozen --package <member> --no-install-workspace`), then the member and the
/// workspace library it uses; the app chosen with `app` in ociforge.toml or `--app`.
@Suite("uv workspace end to end", .serialized)
struct UVWorkspaceEndToEndTests {
    typealias E2E = BuildEndToEndTests

    @Test(
        "uv workspace: the web member (flask + a workspace library) answers under podman; --app apps/worker runs the worker script"
    )
    func webAndWorkerMembers() throws {
        let dir = try TempDir.make("build-uvws")
        defer { dir.remove() }
        let app = try E2E.app("planner/python-uv-workspace/app", in: dir)
        let out = dir.path + "/oci"
        let web = try E2E.requireBuilt(app, cache: dir.path + "/cache", output: out + ":web")
        #expect(web.executed.contains("build/install") && web.executed.contains("build/build"))
        let page = try E2E.httpGet(out, tag: "web")
        #expect(page.hasPrefix("hello from web via the greet workspace library on python 3.13"), "\(page)")

        _ = try E2E.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":worker", extra: ["--app", "apps/worker"])
        let run = try E2E.podmanRun(out, tag: "worker")
        #expect(run.stdout == "hello from worker via the greet workspace library\n", "\(run)")
    }
}
