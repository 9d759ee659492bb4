import Foundation
import OCIWriter
import Testing

@testable import BuildEngine
@testable import Planner
@testable import Sandbox

/// The Dockerfile executor's final config expressed as `ConfigChanges` over the base image's config: applying
/// them (what `ImageAssembler` does) gives exactly the config Dockerfile semantics give.
@Suite struct DockerfileConfigChangesTests {
    static func delta(_ body: (inout DockerfileConfigDelta) -> Void) -> DockerfileConfigDelta {
        var d = DockerfileConfigDelta()
        body(&d)
        return d
    }

    @Test func changesReproduceTheDockerfileConfig() throws {
        var hc = ContainerConfig(
            user: "", exposedPorts: ["80/tcp": EmptyObject()], env: ["PATH=/bin", "A=1"], cmd: ["/bin/sh"],
            volumes: ["/data": EmptyObject()], workingDir: "", labels: ["k": "v"])
        hc.onBuild = ["RUN echo base"]
        hc.healthcheck = Healthcheck(test: ["CMD", "true"])
        hc.argsEscaped = true
        let bases: [ContainerConfig?] = [nil, ContainerConfig(), hc]
        let deltas: [DockerfileConfigDelta] = [
            DockerfileConfigDelta(),
            Self.delta {
                $0.env = ["A=2", "B=3"]
                $0.labels = ["k": "w", "n": "1"]
                $0.exposedPorts = ["443/tcp"]
                $0.volumes = ["/logs"]
            },
            Self.delta {
                $0.entrypoint = ["/entry"]
                $0.cmd = []
            },
            Self.delta {
                $0.entrypoint = ["/entry"]
                $0.cmd = ["--flag"]
                $0.user = "app"
                $0.workingDir = "/srv"
            },
            Self.delta {
                $0.stopSignal = "SIGQUIT"
                $0.shell = ["/bin/bash", "-c"]
                $0.onBuild = ["COPY . /app"]
                $0.healthcheck = DockerfileHealthcheck(
                    test: ["CMD-SHELL", "curl -f localhost"], interval: 30_000_000_000, timeout: 0,
                    startPeriod: 0, startInterval: 0, retries: 3)
            },
            Self.delta {
                $0.healthcheck = DockerfileHealthcheck(
                    test: ["NONE"], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0)
            }
        ]
        for base in bases {
            for delta in deltas {
                var root =
                    base.map { DockerfileImageConfig(base: ImageConfig(platform: Platform.host, config: $0)) }
                    ?? DockerfileImageConfig.scratch
                root.onBuild = nil  // a stage does not inherit its base's triggers
                let dc = root.applying(delta)
                let changes = try dc.configChanges(over: base)
                let want = dc.containerConfig(over: base)
                #expect(try changes.apply(to: base) == want, "base \(String(describing: base)), delta \(delta)")
                #expect(
                    changes.env.allSatisfy { !(base?.env ?? []).contains($0) },
                    "only new or changed env entries: \(changes.env)")
            }
        }
        // Dockerfile semantics drop an empty User/WorkingDir and the base's ONBUILD triggers: expressed as unset fields.
        var root = DockerfileImageConfig(base: ImageConfig(platform: Platform.host, config: hc))
        root.onBuild = nil
        let changes = try root.configChanges(over: hc)
        #expect(changes.unset == [.user, .workingDir, .onBuild])
        #expect(
            changes.env.isEmpty && changes.labels.isEmpty && changes.exposedPorts.isEmpty && changes.volumes.isEmpty)
    }

    /// The one conversion from a base's OCI config to the Dockerfile view: Docker's default PATH only when the base
    /// sets none, an empty User/WorkingDir absent, ports and volumes as sorted lists.
    @Test func baseConfigView() {
        var withPath = ContainerConfig(
            user: "", exposedPorts: ["8080/tcp": EmptyObject(), "80/tcp": EmptyObject()], env: ["A=1", "PATH=/opt"],
            workingDir: "/srv")
        withPath.shell = ["/bin/bash", "-c"]
        let view = DockerfileImageConfig(base: ImageConfig(platform: Platform.host, config: withPath))
        #expect(view.env == ["A=1", "PATH=/opt"])
        #expect(view.user == nil && view.workingDir == "/srv" && view.shell == ["/bin/bash", "-c"])
        #expect(view.exposedPorts == ["80/tcp", "8080/tcp"])
        let bare = DockerfileImageConfig(
            base: ImageConfig(platform: Platform.host, config: ContainerConfig(env: ["A=1"])))
        #expect(bare.env == ["A=1"] + (DockerfileImageConfig.scratch.env ?? []))
        let none = DockerfileImageConfig(base: ImageConfig(platform: Platform.host))
        #expect(none == DockerfileImageConfig.scratch)
        // Written back over the base: what the Dockerfile does not control (ArgsEscaped) is kept.
        var base = withPath
        base.argsEscaped = true
        #expect(view.containerConfig(over: base).argsEscaped == true)
        #expect(view.containerConfig(over: base).user == nil)
    }
}
