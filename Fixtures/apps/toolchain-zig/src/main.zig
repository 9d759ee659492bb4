const std = @import("std");

pub fn main() !void {
    try std.io.getStdOut().writer().print("hello from zig {s}\n", .{@import("builtin").zig_version_string});
}
