import ArgumentParser

struct OCIForge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ociforge",
        abstract: "Build OCI container images from source without Docker and without a daemon.",
        version: "0.1.0",
        subcommands: [
            DockerfileCommand.self,
            ImageCommand.self, LayerCommand.self,
            PlanCommand.self, DetectCommand.self, FreezeCommand.self,
            SandboxCommand.self, BuildCommand.self, VerifyRebuildCommand.self, DeployBuildCommand.self,
            EmulatorsCommand.self, LoginCommand.self, LogoutCommand.self, KeyCommand.self, CacheCommand.self
        ])
}
OCIForge.main()
