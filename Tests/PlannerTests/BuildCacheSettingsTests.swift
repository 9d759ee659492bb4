import Foundation
import Testing

@testable import Planner

/// `[build] cache-to / cache-from / cache-mode` in ociforge.toml reach the plan result (the CLI maps them to the
/// engine's registry cache options when no flag or OCIFORGE_CACHE_* variable is given).
@Suite struct BuildCacheSettingsTests {
    @Test("cache-to as a string, cache-from as an array, cache-mode: in PlanResult.build")
    func settingsReachTheResult() throws {
        let app = try TempApp(
            ValidationTests.with([
                "ociforge.toml":
                    "[build]\ncache-to = \"registry.example/team/cache\"\ncache-from = [\"registry.example/team/cache\", \"registry.example/team/main-cache\"]\ncache-mode = \"min\"\n"
            ]))
        let result = try Planner.plan(appDirectory: app.path, options: PlanOptions())
        #expect(result.build?.cacheTo == ["registry.example/team/cache"])
        #expect(result.build?.cacheFrom == ["registry.example/team/cache", "registry.example/team/main-cache"])
        #expect(result.build?.cacheMode == "min")
    }
}
