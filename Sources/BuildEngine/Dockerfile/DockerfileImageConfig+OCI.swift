import Foundation
import OCIWriter
import Planner

// The one conversion between the two config models of a Dockerfile build. OCIWriter's `ContainerConfig` is the
// source of truth: it is what a base image has and what the built image gets. Planner's `DockerfileImageConfig` is
// the resolver's pure view of the fields a Dockerfile controls (Planner does not link the OCI library); it is
// derived from a base's `ContainerConfig` here and written back over it here, nowhere else.

extension DockerfileImageConfig {
    /// The Dockerfile view of a base image's config, with Docker's default PATH when the base sets none (BuildKit
    /// adds it to a stage whose base has none). An empty User or WorkingDir is absent; a base's HEALTHCHECK stays in
    /// its `ContainerConfig` (`containerConfig(over:)` keeps it unless the Dockerfile replaces it).
    init(base image: ImageConfig) {
        self.init()
        if let cc = image.config {
            env = cc.env
            user = cc.user?.isEmpty == true ? nil : cc.user
            workingDir = cc.workingDir?.isEmpty == true ? nil : cc.workingDir
            entrypoint = cc.entrypoint
            cmd = cc.cmd
            labels = cc.labels
            exposedPorts = cc.exposedPorts.map { Array($0.keys).sorted() }
            volumes = cc.volumes.map { Array($0.keys).sorted() }
            stopSignal = cc.stopSignal
            onBuild = cc.onBuild
            shell = cc.shell
        }
        if !(env ?? []).contains(where: { $0.hasPrefix("PATH=") }) {
            env = (env ?? []) + (DockerfileImageConfig.scratch.env ?? [])
        }
    }

    /// This config written over the base's `ContainerConfig` (Dockerfile semantics: the fields a Dockerfile controls
    /// are replaced, the others, such as ArgsEscaped or a base's Healthcheck, kept).
    func containerConfig(over base: ContainerConfig?) -> ContainerConfig {
        var c = base ?? ContainerConfig()
        c.env = env
        c.user = user
        c.workingDir = workingDir
        c.entrypoint = entrypoint
        c.cmd = cmd
        c.labels = labels
        c.exposedPorts = exposedPorts.map { Dictionary(uniqueKeysWithValues: $0.map { ($0, EmptyObject()) }) }
        c.volumes = volumes.map { Dictionary(uniqueKeysWithValues: $0.map { ($0, EmptyObject()) }) }
        c.stopSignal = stopSignal
        c.onBuild = onBuild
        c.shell = shell
        if let h = healthcheck {
            var hc = Healthcheck(test: h.test)
            if h.interval != 0 { hc.interval = h.interval }
            if h.timeout != 0 { hc.timeout = h.timeout }
            if h.startPeriod != 0 { hc.startPeriod = h.startPeriod }
            if h.startInterval != 0 { hc.startInterval = h.startInterval }
            if h.retries != 0 { hc.retries = h.retries }
            c.healthcheck = hc
        }
        return c
    }

    /// The final config (`containerConfig(over:)`) as `ConfigChanges` for `ImageAssembler`: fields that differ are
    /// set, or unset when the Dockerfile's config has none; env, labels, ports and volumes only ever grow. Checked:
    /// applying the changes gives that config exactly.
    func configChanges(over base: ContainerConfig?) throws -> ConfigChanges {
        let target = containerConfig(over: base)
        let b = base ?? ContainerConfig()
        var c = ConfigChanges()
        let baseEnv = b.env ?? []
        c.env = (target.env ?? []).filter { !baseEnv.contains($0) }
        func replace<T: Equatable>(
            _ t: T?, _ old: T?, _ field: ConfigChanges.Field, _ set: (inout ConfigChanges, T) -> Void
        ) {
            guard t != old else { return }
            if let t { set(&c, t) } else { c.unset.insert(field) }
        }
        replace(target.user, b.user, .user) { $0.user = $1 }
        replace(target.workingDir, b.workingDir, .workingDir) { $0.workingDir = $1 }
        replace(target.entrypoint, b.entrypoint, .entrypoint) { $0.entrypoint = $1 }
        if target.cmd != b.cmd || c.entrypoint != nil {
            if let cmd = target.cmd { c.cmd = cmd } else { c.unset.insert(.cmd) }
        }
        c.labels = (target.labels ?? [:]).filter { b.labels?[$0.key] != $0.value }
        c.exposedPorts = (target.exposedPorts ?? [:]).keys.filter { b.exposedPorts?[$0] == nil }.sorted()
        c.volumes = (target.volumes ?? [:]).keys.filter { b.volumes?[$0] == nil }.sorted()
        replace(target.stopSignal, b.stopSignal, .stopSignal) { $0.stopSignal = $1 }
        replace(target.healthcheck, b.healthcheck, .healthcheck) { $0.healthcheck = $1 }
        replace(target.onBuild, b.onBuild, .onBuild) { $0.onBuild = $1 }
        replace(target.shell, b.shell, .shell) { $0.shell = $1 }
        guard try c.apply(to: base) == target else {
            throw BuildEngineError(
                .image,
                "internal error: the image config changes do not reproduce the Dockerfile's config (base \(String(describing: base)), wanted \(target))"
            )
        }
        return c
    }
}
