import Foundation
import Testing

@testable import OCIWriter

/// The config-change model the Dockerfile executor needs: Docker extensions (volumes, healthcheck, ONBUILD, shell),
/// unset fields, interleaved empty-layer history, no base-digest annotation.
@Suite struct AssembleDockerConfigTests {
    @Test func dockerExtensionsUnsetAndInterleavedHistory() throws {
        let tmp = try LayoutTempDir("assemble-docker")
        let layout = try OCILayout.create(at: tmp.sub("out"))
        let l0 = try makeLayoutTestLayer(
            in: tmp.path, name: "base", files: ["etc/base": "b\n"], createdBy: "base layer")
        var baseCC = ConfigChanges(
            cmd: ["/bin/sh"], env: ["PATH=/bin", "A=1"], user: "", labels: ["k": "v"], volumes: ["/data"],
            healthcheck: Healthcheck(test: ["CMD", "true"]), onBuild: ["RUN echo hi"], shell: ["/bin/sh", "-c"])
        baseCC.workingDir = "/srv"
        let env = ["SOURCE_DATE_EPOCH": "1700000000"]
        let base = try ImageAssembler(
            base: .scratch(platform: Platform.host), layers: [l0], changes: baseCC, destination: layout,
            tag: "base", environment: env
        ).assemble()
        #expect(base.config.value.config?.user == "")
        #expect(base.config.value.config?.volumes?.keys.sorted() == ["/data"])

        let l1 = try makeLayoutTestLayer(in: tmp.path, name: "one", files: ["one": "1\n"])
        let l2 = try makeLayoutTestLayer(in: tmp.path, name: "two", files: ["two": "2\n"])
        var changes = ConfigChanges(
            entrypoint: ["/entry"], env: ["A=2", "B=3"], labels: ["k": "w"], stopSignal: "SIGQUIT",
            annotations: ["x": "y"], volumes: ["/logs"], healthcheck: Healthcheck(test: ["NONE"]),
            shell: ["/bin/bash", "-c"], unset: [.user, .onBuild, .workingDir])
        changes.created = "2024-01-01T00:00:00Z"
        let created = "2024-01-01T00:00:00Z"
        var a = ImageAssembler(
            base: .layout(layout, tag: "base", platform: nil), layers: [l1, l2], changes: changes,
            destination: layout, tag: "child", environment: env)
        a.history = [
            History(created: created, createdBy: "ENV A=2", emptyLayer: true),
            History(created: created, createdBy: "COPY one /"),
            History(created: created, createdBy: "VOLUME /logs", emptyLayer: true),
            History(created: created, createdBy: "COPY two /")
        ]
        a.annotateBaseDigest = false
        let img = try a.assemble()
        let c = try #require(img.config.value.config)
        #expect(c.entrypoint == ["/entry"])
        #expect(c.cmd == nil, "an entrypoint without a cmd clears the base's Cmd")
        #expect(c.env == ["PATH=/bin", "A=2", "B=3"])
        #expect(c.user == nil && c.workingDir == nil && c.onBuild == nil)
        #expect(c.labels == ["k": "w"])
        #expect(c.volumes?.keys.sorted() == ["/data", "/logs"])
        #expect(c.healthcheck == Healthcheck(test: ["NONE"]))
        #expect(c.shell == ["/bin/bash", "-c"])
        #expect(c.stopSignal == "SIGQUIT")
        let history = try #require(img.config.value.history)
        #expect(history.map(\.createdBy) == ["base layer", "ENV A=2", "COPY one /", "VOLUME /logs", "COPY two /"])
        #expect(history.map { $0.emptyLayer == true } == [false, true, false, true, false])
        #expect(img.config.value.rootfs.diffIDs == [l0.diffID, l1.diffID, l2.diffID])
        #expect(
            img.manifest.value.annotations == ["x": "y"], "no base digest annotation when annotateBaseDigest is false")
        #expect(LayoutVerifier.verify(layout, tag: "child").isValid)

        // With the default, the base digest is recorded.
        var b = ImageAssembler(
            base: .layout(layout, tag: "base", platform: nil), layers: [l1], changes: ConfigChanges(),
            destination: layout, tag: "child2", environment: env)
        b.history = [History(created: created, createdBy: "COPY one /")]
        let img2 = try b.assemble()
        #expect(img2.manifest.value.annotations?["org.opencontainers.image.base.digest"] == base.manifestDigest.string)
        #expect(img2.config.value.config?.cmd == ["/bin/sh"] && img2.config.value.config?.user == "")
    }

    @Test func givenHistoryMustMatchTheLayers() throws {
        let tmp = try LayoutTempDir("assemble-history")
        let layout = try OCILayout.create(at: tmp.sub("out"))
        let l1 = try makeLayoutTestLayer(in: tmp.path, name: "one", files: ["one": "1\n"])
        var a = ImageAssembler(
            base: .scratch(platform: Platform.host), layers: [l1], destination: layout, tag: "x", environment: [:])
        a.history = [History(createdBy: "ENV A=1", emptyLayer: true)]
        let e = #expect(throws: OCIWriterError.self) { try a.assemble() }
        #expect(e?.code == .invalidArgument)
        #expect(e?.message.contains("one per layer") == true)
        #expect(try !layout.tags().contains("x"))
    }

    @Test func applyKeepsNoConfigWhenNothingChanges() throws {
        #expect(try ConfigChanges().apply(to: nil) == nil)
        #expect(try ConfigChanges(unset: [.cmd]).apply(to: nil) == ContainerConfig())
        let base = ContainerConfig(entrypoint: ["/e"], cmd: ["c"])
        var keep = ConfigChanges(unset: [.cmd])
        #expect(try keep.apply(to: base) == ContainerConfig(entrypoint: ["/e"]))
        keep = ConfigChanges(entrypoint: ["/f"], cmd: ["d"])
        #expect(try keep.apply(to: base) == ContainerConfig(entrypoint: ["/f"], cmd: ["d"]))
    }
}
