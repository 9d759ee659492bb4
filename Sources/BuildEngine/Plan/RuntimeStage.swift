import Foundation
import Planner
import Sandbox
import Toolchains

/// The runtime stage as built: its base image and item, the layers above it, and the environment its toolchains
/// give the image config.
struct RuntimeStage {
    var image: String
    var isStatic: Bool
    var rootfs: String
    var base: StageLayer
    var layers: [StageLayer] = []
    var workdir: String
    var toolchainEnvironment = ToolchainEnvironment(pathEntries: [], variables: [])

    var top: StageLayer { layers.last ?? base }

    /// Adds `item` when it made a layer.
    mutating func append(_ item: StageLayer) {
        if item.layer != nil { layers.append(item) }
    }
}

extension ImageBuilder {
    /// The runtime stage on the scratch base (made from build-stage files), before `completeRuntimeStage`.
    func scratchRuntimeStage(_ deploy: Deploy, image: String, build: BuildStage, rec: Recorder) throws -> RuntimeStage {
        let base = try scratchBaseItem(
            user: deploy.user, uid: deploy.runtimeUser.map { UInt32($0.uid) } ?? Self.scratchUID,
            buildRootfs: build.rootfs, buildStack: build.stack, rec: rec)
        return RuntimeStage(
            image: image, isStatic: true, rootfs: "", base: base,
            workdir: deploy.workingDirectory.isEmpty ? "/app" : deploy.workingDirectory)
    }

    /// The runtime stage on a Debian (or given) base: the base layer, the apt packages and the runtime user's
    /// account — nothing from the build stage, so it may run beside it (`stages`).
    func systemRuntimeStage(_ deploy: Deploy, image: String, rootfs: String, rec: Recorder) throws -> RuntimeStage {
        var stage = RuntimeStage(
            image: image, isStatic: false, rootfs: rootfs,
            base: try baseItem(rootfs: rootfs, name: image, stage: "runtime", rec: rec),
            workdir: deploy.workingDirectory.isEmpty ? "/app" : deploy.workingDirectory)
        try addSystemLayers(deploy, to: &stage, rec: rec)
        return stage
    }

    /// The rest of the runtime stage: the upstream toolchains (or their runtime builds), the build-stage files a
    /// scratch plan relies on, static assets, the deploy inputs, then the writable paths.
    func completeRuntimeStage(
        _ stage: inout RuntimeStage, _ deploy: Deploy, files: [String], build: BuildStage, rec: Recorder
    ) throws {
        for layer in try toolchainLayers(stage: "runtime", parent: stage.top, rec: rec) {
            stage.layers.append(layer.item)
            stage.toolchainEnvironment = stage.toolchainEnvironment.adding(layer.environment)
        }
        // A plan made for the scratch base takes the CA bundle and zoneinfo from the build stage (its runtime
        // packages were dropped): a Debian runtime base used instead gets the same files.
        if !stage.isStatic && deploy.base == Debian.staticRuntimeImage {
            stage.append(
                try buildStageFilesItem(
                    parent: stage.top, runtimeRootfs: stage.rootfs, buildRootfs: build.rootfs,
                    buildStack: build.stack, rec: rec))
        }
        if !plan.staticAssets.isEmpty {
            stage.layers.append(try assetsItem(parent: stage.top, rec: rec, stage: "runtime"))
        }
        try addDeployInputs(deploy, files: files, build: build, to: &stage, rec: rec)
        // [non-root] The runtime user's writable paths, after the app is in place (RuntimeUserLayer.swift).
        if let account = deploy.runtimeUser,
            let item = try writableItem(
                account: account, workdir: stage.workdir, parent: stage.top, buildRootfs: build.rootfs,
                buildStack: build.stack, runtimeTrees: stage.layers.compactMap(\.tree), rec: rec)
        {
            stage.append(item)
        }
    }

    /// The runtime base: the plan's (or --runtime-base); a scratch base whose start command needs a shell gets
    /// the Debian slim base instead, with a warning.
    func runtimeImage(_ deploy: Deploy, rec: Recorder) throws -> String {
        let image = options.runtimeBase ?? deploy.base
        guard options.runtimeBase == nil, image == Debian.staticRuntimeImage, let start = deploy.startCommand,
            !start.isEmpty, (try? Self.execForm(start, workingDirectory: "/app", base: image)) == nil
        else { return image }
        // (an explicit --runtime-base scratch is refused in checkStaticRuntime, with the fix)
        let why =
            "the start command `\(start)` needs a shell, which the scratch runtime base does not have: the runtime base is \(Debian.runtimeImage) instead; write it as plain words (program and arguments, no $VARIABLES, quotes or operators) to keep the much smaller scratch base"
        rec.warnings.append(BuildWarning(.runtimeBaseReplaced, why))
        options.emit(.notice("[runtime] \(why)"))
        return Debian.runtimeImage
    }

    /// What a base without a shell or package manager cannot do, refused before anything runs.
    func checkStaticRuntime(_ deploy: Deploy, image: String, isStatic: Bool) throws {
        guard isStatic else { return }
        if let start = deploy.startCommand, !start.isEmpty {
            _ = try Self.execForm(
                start, workingDirectory: deploy.workingDirectory.isEmpty ? "/app" : deploy.workingDirectory,
                base: image)
        }
        if !deploy.aptPackages.isEmpty {
            throw BuildEngineError(
                .unsupported,
                "the runtime base '\(image)' has no package manager, so the runtime packages \(deploy.aptPackages.joined(separator: " ")) cannot be installed: drop them or choose a Debian runtime base (start.runImage / --runtime-base \(Debian.runtimeImage))"
            )
        }
        if let user = deploy.user, user != "root", user != "0" { try Self.validateUserName(user) }
    }

    /// The runtime apt packages and the runtime user's account (Debian bases).
    func addSystemLayers(_ deploy: Deploy, to stage: inout RuntimeStage, rec: Recorder) throws {
        var env = ["PATH": Self.defaultPath, "HOME": "/root"]
        if !deploy.aptPackages.isEmpty {
            if let e = options.sourceDateEpoch { env["SOURCE_DATE_EPOCH"] = String(e) }
            stage.append(
                try phaseItem(
                    stage: "runtime", phase: "packages", apt: deploy.aptPackages, commands: [], env: env,
                    caches: [], rootfs: stage.rootfs, stack: [stage.base], rec: rec))
        }
        guard let user = deploy.user, user != "root", user != "0" else { return }
        try Self.validateUserName(user)
        // [non-root] The plan's account (fixed uid/gid) when it has one.
        let script =
            deploy.runtimeUser?.accountCommand
            ?? "getent passwd \(user) >/dev/null || useradd --system --user-group --create-home --home-dir /home/\(user) --shell /bin/sh \(user)"
        stage.append(
            try phaseItem(
                stage: "runtime", phase: "user", apt: [], commands: [script],
                env: ["PATH": Self.defaultPath, "HOME": "/root"], caches: [], rootfs: stage.rootfs,
                stack: [stage.base] + stage.layers, rec: rec, workingDirectory: "/"))
    }

    /// The deploy inputs: app files, or files from a build step's result.
    func addDeployInputs(
        _ deploy: Deploy, files: [String], build: BuildStage, to stage: inout RuntimeStage, rec: Recorder
    ) throws {
        for input in deploy.inputs {
            if input.local {
                stage.append(
                    try copyItem(
                        files: select(files, input), parent: stage.top, rec: rec, stage: "runtime", label: "app",
                        destination: stage.workdir))
            } else if let name = input.step {
                guard let depth = build.stepDepth[name] else {
                    throw BuildEngineError(
                        .invalidInput, "the deploy section copies from step '\(name)', which the plan does not have")
                }
                stage.append(
                    try outputsItem(
                        step: name, stack: Array(build.stack.prefix(depth)), rootfs: build.rootfs, input: input,
                        workdir: stage.workdir, parent: stage.top, rec: rec))
            }
        }
    }
}
