import Foundation

/// Where the inputs a fuzz target crashed or stalled on are kept: Fixtures/fuzz-regressions/<target>/.
enum FuzzRegressionInputs {
    static func directory(_ target: String) -> String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Fixtures/fuzz-regressions/" + target
    }
}
