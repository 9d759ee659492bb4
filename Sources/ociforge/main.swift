import ArgumentParser
import OCIWriter

struct OCIForge: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ociforge", abstract: "Build OCI images without Docker.",
                                                    subcommands: [SandboxCommand.self])
}
OCIForge.main()
