import Foundation
import OCIWriter
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One build's use of registry caches (`BuildOptions.registryCache`): looks steps up in the `importFrom`
/// repositories when the local cache misses, remembers every step the build used, and after the image is built
/// writes them (all, or for `min` the final image's layers and the bases) to every `exportTo` repository —
/// blobs first, then the record, then the tag, so a reader never finds a tag naming a missing blob.
/// A registry that cannot be read or written, a missing or corrupt entry: a warning and a miss, never a failure.
final class RegistryCache: Sendable {
    let options: RegistryCacheOptions
    let transport: ImageTransport
    /// Tells the user what happened (hits, misses that were not plain absences, export results).
    let notice: @Sendable (String) -> Void
    private let used = Mutex<[(record: CacheRecord, file: String?)]>([])
    private let problems = Mutex<[BuildWarning]>([])

    init(options: RegistryCacheOptions, transport: ImageTransport, notice: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.transport = transport
        self.notice = notice
    }

    /// Warnings for the build report (unusable entries, refused writes).
    var warnings: [BuildWarning] { problems.withLock { $0 } }

    /// A `registryCache` warning for the report, told to the user now; `cause`: the error behind it.
    func warn(_ message: String, cause: (any Error)? = nil) {
        let warning = BuildWarning(.registryCache, message, cause: cause)
        problems.withLock { $0.append(warning) }
        notice(warning.description)
    }

    /// Remembers a step the build used (from the cache or produced), with its layer blob file, for the export.
    func note(_ record: CacheRecord, layerFile: String?) {
        guard !options.exportTo.isEmpty else { return }
        used.withLock { list in
            if !list.contains(where: { $0.record.key == record.key }) { list.append((record, layerFile)) }
        }
    }

    // MARK: - Import

    /// A pulled entry: its record and the layer blob downloaded (digest and size verified) to `layerFile`.
    struct Pulled: Sendable {
        var record: CacheRecord
        var layerFile: String?
        var source: String
    }

    /// `key`'s entry from the first `importFrom` repository that has a usable one; the layer is downloaded to a
    /// file made by `temporaryFile`. nil: no repository has it (an unusable entry is a warning).
    func pull(_ key: String, temporaryFile: @escaping @Sendable () -> String) -> Pulled? {
        for ref in options.importFrom {
            let source = "\(ref.registry)/\(ref.repository):\(RegistryCacheFormat.tag(key))"
            do {
                if let p = try blocking({ try await self.pull(key, from: ref, source: source, temporaryFile) }) {
                    return p
                }
            } catch {
                warn("registry cache \(source) is unusable, the step is built instead", cause: error)
            }
        }
        return nil
    }

    private func pull(
        _ key: String, from ref: ImageReference, source: String, _ temporaryFile: @Sendable () -> String
    ) async throws -> Pulled? {
        let c = try await transport.client(ref.registry)
        let fetched: RegistryClient.FetchedManifest
        do {
            fetched = try await c.fetchManifest(repository: ref.repository, reference: RegistryCacheFormat.tag(key))
        } catch let e as OCIWriterError where e.code == .notFound {
            return nil
        }
        let recordDescriptor = try RegistryCacheFormat.parse(manifestBytes: fetched.bytes, key: key, source: source)
        let layerDescriptor = try CanonicalJSON.decode(Manifest.self, from: fetched.bytes, source: source).layers
            .dropFirst().first
        let recordFile = temporaryFile()
        defer { unlink(recordFile) }
        try await c.downloadBlob(repository: ref.repository, descriptor: recordDescriptor, to: recordFile)
        let bytes = Array(FileManager.default.contents(atPath: recordFile) ?? Data())
        let record = try RegistryCacheFormat.record(bytes, key: key, layer: layerDescriptor, source: source)
        var layerFile: String?
        if let layer = record.layer {
            let file = temporaryFile()
            do {
                try await c.downloadBlob(repository: ref.repository, descriptor: layer.descriptor, to: file)
            } catch {
                unlink(file)
                throw error
            }
            layerFile = file
        }
        await transport.finish(c, verb: "registry cache \(source)")
        return Pulled(record: record, layerFile: layerFile, source: source)
    }

    // MARK: - Export

    /// Writes the steps this build used to every `exportTo` repository (`finalLayers`: the digests of the image's
    /// layers, what `min` keeps besides the bases). A repository that refuses is a warning; the others still get it.
    func export(finalLayers: Set<Digest>) {
        let all = used.withLock { $0 }
        let chosen = all.filter { entry in
            options.mode == .max || entry.record.phase == "base"
                || entry.record.layer.map { finalLayers.contains($0.digest) } == true
        }
        guard !chosen.isEmpty else { return }
        for ref in options.exportTo {
            let repo = "\(ref.registry)/\(ref.repository)"
            do {
                let n = try blocking { try await self.push(chosen, to: ref) }
                notice(
                    "registry cache \(repo): \(n) of \(chosen.count) entries written (mode \(options.mode.rawValue))")
            } catch {
                warn(
                    "registry cache \(repo) was not written, the image is built but the cache not shared", cause: error)
            }
        }
    }

    /// Pushes the entries `ref`'s repository lacks; returns how many were written.
    private func push(_ entries: [(record: CacheRecord, file: String?)], to ref: ImageReference) async throws -> Int {
        let c = try await transport.client(ref.registry)
        let empty = temporaryFileWith(Descriptor.emptyJSONBytes)
        defer { unlink(empty) }
        _ = try await c.pushBlob(repository: ref.repository, descriptor: Descriptor.emptyJSON, file: empty)
        var written = 0
        for (record, file) in entries {
            let bytes = try CanonicalJSON.encode(record)
            let recordDescriptor = Descriptor(
                mediaType: RegistryCacheFormat.recordType, digest: Digest.of(bytes), size: Int64(bytes.count))
            let manifest = try RegistryCacheFormat.manifest(record, recordDescriptor: recordDescriptor)
            let tag = RegistryCacheFormat.tag(record.key)
            if let existing = try? await c.fetchManifest(repository: ref.repository, reference: tag),
                existing.bytes == manifest
            {
                continue
            }
            if let layer = record.layer, let file {
                _ = try await c.pushBlob(repository: ref.repository, descriptor: layer.descriptor, file: file)
            }
            let recordFile = temporaryFileWith(bytes)
            defer { unlink(recordFile) }
            _ = try await c.pushBlob(repository: ref.repository, descriptor: recordDescriptor, file: recordFile)
            try await c.putManifest(
                repository: ref.repository, reference: tag, bytes: manifest, mediaType: .ociManifest)
            written += 1
        }
        await transport.finish(c, verb: "registry cache \(ref.registry)/\(ref.repository)")
        return written
    }

    /// A private temporary file holding `bytes` (mode 0600).
    func temporaryFileWith(_ bytes: [UInt8]) -> String {
        let path = NSTemporaryDirectory() + "/ociforge-cache-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        return path
    }
}
