import Testing
@testable import Planner

@Test func plannerModuleLoads() { #expect(!PlannerInfo.version.isEmpty) }
