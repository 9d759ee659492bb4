import Planner

/// The plan's record of a pinned toolchain (`Planner.ToolchainPin`), named apart from the Toolchains module's
/// `ToolchainPin` in files that import both.
typealias PlanPin = ToolchainPin
