import Foundation
import Planner

extension ImageBuilder {
    /// Both stages of the image. The runtime stage's first part — its Debian base, apt packages and account —
    /// needs nothing from the build stage, so unless `options.parallelStages` is off (or keys are only previewed)
    /// it runs on a second thread while the build stage runs, as BuildKit runs independent stages: on a cold build
    /// the two apt installs overlap (`AptPhaseScript` lets them share the apt caches). That part records into its
    /// own recorder, appended after the build stage's, so the report lists the steps in the same order either way;
    /// a build-stage failure is reported first, once the other thread has ended.
    func stages(_ deploy: Deploy, files: [String], rec: Recorder) throws -> (BuildStage, RuntimeStage) {
        let buildRootfs = try rootfs(for: options.base ?? plan.buildImage, stage: "build")
        let image = try runtimeImage(deploy, rec: rec)
        let isStatic = image == Debian.staticRuntimeImage
        try checkStaticRuntime(deploy, image: image, isStatic: isStatic)
        let build: BuildStage
        var runtime: RuntimeStage
        if isStatic {
            // The scratch base holds files of the build stage.
            build = try buildStage(files: files, rootfs: buildRootfs, rec: rec)
            runtime = try scratchRuntimeStage(deploy, image: image, build: build, rec: rec)
        } else {
            let runtimeRootfs = try rootfs(for: image, stage: "runtime")
            let system = { @Sendable (rec: Recorder) throws -> RuntimeStage in
                try self.systemRuntimeStage(deploy, image: image, rootfs: runtimeRootfs, rec: rec)
            }
            if options.parallelStages && options.keyPreview == nil {
                let runtimeRec = Recorder()
                // Nicer: the image waits for the build stage, which usually has more to do.
                let beside = BesideThread(niceIncrement: 5) { try system(runtimeRec) }
                let built = Result { try buildStage(files: files, rootfs: buildRootfs, rec: rec) }
                let other = beside.wait()
                build = try built.get()
                runtime = try other.get()
                rec.append(runtimeRec)
            } else {
                build = try buildStage(files: files, rootfs: buildRootfs, rec: rec)
                runtime = try system(rec)
            }
        }
        try completeRuntimeStage(&runtime, deploy, files: files, build: build, rec: rec)
        return (build, runtime)
    }
}
