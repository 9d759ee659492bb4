@testable import Planner

/// Config files from app repositories: the first byte picks the format (even: TOML, odd: JSON), the rest is the
/// document. Parsed, read as a build plan and as ociforge settings (strict and lenient), then merged over and
/// under a fixed layer. Errors are fine; a crash or a hang is not.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let format: ConfigFormat = data[0] % 2 == 0 ? .toml : .json
    let text = String(decoding: UnsafeBufferPointer(start: data + 1, count: size - 1), as: UTF8.self)
    guard let node = try? ConfigParser.parse(text, format: format, file: "ociforge.toml") else { return 0 }
    for strict in [true, false] {
        var reader = ConfigReader(file: "ociforge.toml", strict: strict)
        if let plan = try? reader.buildPlan(node, extraKeys: ConfigReader.ociforgeKeys) {
            let base = BuildPlanConfig(providers: ["python"], variables: ["A": "1"])
            _ = BuildPlanConfig.merging([base, plan])
            _ = BuildPlanConfig.merging([plan, base, plan])
        }
        _ = try? reader.settings(node)
    }
    return 0
}
