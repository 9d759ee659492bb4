import ArgumentParser
import OCIWriter

struct OCIForge: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ociforge", abstract: "Build OCI images without Docker.",
                                                    subcommands: [PlanCommand.self, DetectCommand.self, FreezeCommand.self])
}
OCIForge.main()
