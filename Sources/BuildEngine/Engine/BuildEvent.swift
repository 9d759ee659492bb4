import Foundation

/// What a build reports while it runs (`BuildOptions.events`, the one progress channel). `step` is `stage/phase`, e.g. `build/install`.
public enum BuildEvent: Sendable, Hashable {
    /// A step started working (running its commands, writing a base or copy layer); `detail` says what it does.
    case started(step: String, detail: String)
    /// The step writes its layer to `file`: the file's size is the bytes written so far.
    case writingLayer(step: String, file: String)
    /// Bytes pulled or sent for the step so far.
    case bytes(step: String, count: Int64)
    /// The step's layer came from the cache: nothing ran.
    case cached(step: String)
    /// The step finished; the layer sizes are nil when it changed nothing (no layer).
    case finished(step: String, seconds: Double, layerSize: Int64?, uncompressedSize: Int64?)
    /// A line the step's commands printed.
    case output(step: String, line: String, isError: Bool)
    /// Progress information not tied to a running step (base assembly, sending the image).
    case message(String)
    /// Something the user should see even with `--quiet` (an unusable cache entry being rebuilt).
    case notice(String)
}
