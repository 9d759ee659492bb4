import Foundation

/// One problem found by `LayoutVerifier`.
public struct VerificationProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The content breaks a rule (the spec's, or a limit): the message says which.
        case invalid
        /// It could not be read, verified or decoded: `cause` is the error that stopped it.
        case unreadable
    }

    /// What is wrong: `index.json`, `blob sha256:…`, `manifest sha256:…`, `config sha256:…`, `layer sha256:…`.
    public var subject: String
    /// The field or entry concerned, e.g. `layers[1].digest`, `rootfs.diff_ids[0]`.
    public var field: String?
    public var message: String
    public var kind: Kind
    /// The error behind an `unreadable` problem (decoded from JSON: a `RecordedCause` with its text).
    public var cause: (any Error)?

    public init(subject: String, field: String?, message: String, cause: (any Error)? = nil) {
        self.subject = subject
        self.field = field
        self.message = message
        self.kind = cause == nil ? .invalid : .unreadable
        self.cause = cause
    }

    /// The cause as text (what the report's text and JSON carry).
    public var causeText: String? { cause.map { String(describing: $0) } }

    public var description: String {
        subject + (field.map { " \($0)" } ?? "") + ": " + message + (causeText.map { ": \($0)" } ?? "")
    }

    private enum CodingKeys: String, CodingKey { case subject, field, message, kind, cause }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            subject: try c.decode(String.self, forKey: .subject),
            field: try c.decodeIfPresent(String.self, forKey: .field),
            message: try c.decode(String.self, forKey: .message),
            cause: try c.decodeIfPresent(String.self, forKey: .cause).map { RecordedCause($0) })
        kind = try c.decodeIfPresent(Kind.self, forKey: .kind) ?? kind
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(subject, forKey: .subject)
        try c.encodeIfPresent(field, forKey: .field)
        try c.encode(message, forKey: .message)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(causeText, forKey: .cause)
    }

    public static func == (a: VerificationProblem, b: VerificationProblem) -> Bool {
        (a.subject, a.field, a.message, a.kind, a.causeText) == (b.subject, b.field, b.message, b.kind, b.causeText)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(subject)
        hasher.combine(field)
        hasher.combine(message)
        hasher.combine(kind)
        hasher.combine(causeText)
    }
}

/// The outcome of verifying a layout (or one tag in it).
public struct VerificationReport: Sendable, Codable {
    public var layout: String
    public var tag: String?
    public var problems: [VerificationProblem]
    /// Distinct blobs whose size and digest were re-derived.
    public var blobsChecked: Int
    /// Layers decompressed and checked against their diffID.
    public var layersChecked: Int
    /// Manifests checked.
    public var manifestsChecked: [Digest]
    public var bytesRead: Int64

    public var isValid: Bool { problems.isEmpty }

    /// Human-readable rendering: one line per problem, then a summary line.
    public func text() -> String {
        var out = problems.map { "error: " + $0.description }
        let what = tag.map { "\(layout):\($0)" } ?? layout
        out.append(
            "\(isValid ? "OK" : "FAILED"): \(what): \(manifestsChecked.count) manifest(s), \(blobsChecked) blob(s), \(layersChecked) layer(s) decompressed, \(bytesRead) bytes read, \(problems.count) problem(s)"
        )
        return out.joined(separator: "\n") + "\n"
    }
}

/// Re-derives every digest, diffID and size of a layout and checks document structure and media types.
/// All problems are collected; nothing is modified.
public enum LayoutVerifier {
    /// Verifies the image(s) named by `tag` (every index.json entry with that ref name), or with `tag` nil every
    /// entry of index.json plus every file under `blobs/sha256/` (which must hash to its name).
    /// Layers are decompressed within `limits` (per-layer and per-image bytes, expansion ratio): a layer past one
    /// is a problem naming its digest and the limit, found without decompressing the rest of it.
    public static func verify(
        _ layout: OCILayout, tag: String? = nil, limits: ExtractionLimits = ExtractionLimits()
    ) -> VerificationReport {
        var v = Run(layout: layout, limits: limits)
        v.run(tag: tag)
        return VerificationReport(
            layout: layout.path, tag: tag, problems: v.problems, blobsChecked: v.blobOK.count,
            layersChecked: v.layersChecked, manifestsChecked: v.manifests, bytesRead: v.bytesRead)
    }

    struct Run {
        let layout: OCILayout
        let limits: ExtractionLimits
        var problems: [VerificationProblem] = []
        /// Blob digest → whether its size/digest checked out (each blob is read once).
        var blobOK: [Digest: Bool] = [:]
        /// Verified size of each sound blob.
        var actualSize: [Digest: Int64] = [:]
        var layerResults: [Digest: LayerBlobDigests?] = [:]
        /// Layer digests computed ahead, in parallel (consumed by `digestLayer`).
        var precomputed: [Digest: Result<LayerBlobDigests, any Error>] = [:]
        var layersChecked = 0
        var manifests: [Digest] = []
        var bytesRead: Int64 = 0

        init(layout: OCILayout, limits: ExtractionLimits) {
            self.layout = layout
            self.limits = limits
        }

        mutating func problem(_ subject: String, _ field: String?, _ message: String, cause: (any Error)? = nil) {
            let p = VerificationProblem(subject: subject, field: field, message: message, cause: cause)
            if !problems.contains(p) { problems.append(p) }
        }

        mutating func run(tag: String?) {
            let index: EncodedDocument<ImageIndex>
            do {
                guard OCILayout.isLayout(layout.path) else {
                    problem("oci-layout", nil, "missing: \(layout.path) is not an OCI image layout")
                    return
                }
                _ = try OCILayout.open(at: layout.path)
                index = try layout.readIndexDocument()
            } catch {
                problem("index.json", nil, "cannot be read", cause: error)
                return
            }
            if let t = index.value.mediaType, t != .ociIndex {
                problem("index.json", "mediaType", "is \(t), expected \(MediaType.ociIndex)")
            }
            var entries = Array(index.value.manifests.enumerated())
            if let tag {
                entries = entries.filter { $0.element.annotations?[Descriptor.refNameAnnotation] == tag }
                if entries.isEmpty { problem("index.json", nil, "no entry tagged '\(tag)'") }
            }
            for (i, d) in entries {
                if let name = d.annotations?[Descriptor.refNameAnnotation] {
                    do { try OCILayout.validateTag(name) } catch {
                        problem("index.json", "manifests[\(i)].annotations", "is not a valid tag", cause: error)
                    }
                }
                visit(d, from: "index.json", field: "manifests[\(i)]", depth: 0)
            }
            if tag == nil { checkUnreferencedBlobs() }
        }

        /// Checks a blob's existence, size and digest once; returns whether it is sound.
        mutating func checkBlob(_ d: Descriptor, from: String, field: String) -> Bool {
            if let ok = blobOK[d.digest] {
                // Already read: a second descriptor for the same blob must agree on its size.
                if ok, let actual = actualSize[d.digest], actual != d.size {
                    problem(
                        "blob \(d.digest)", nil,
                        "size mismatch: \(from) \(field) says \(d.size) bytes, the blob has \(actual)")
                    return false
                }
                return ok
            }
            var ok = true
            do {
                if !layout.hasBlob(d.digest) {
                    if !(d.urls ?? []).isEmpty {
                        return true  // foreign / non-distributable blob, legitimately absent
                    }
                    throw OCIWriterError(.notFound, "blob is missing from the layout")
                }
                try layout.verifyBlob(d)
                bytesRead += d.size
                actualSize[d.digest] = d.size
            } catch let e as OCIWriterError {
                ok = false
                problem("blob \(d.digest)", nil, e.message + " (referenced by \(from) \(field))")
            } catch {
                ok = false
                problem("blob \(d.digest)", nil, "cannot be verified (referenced by \(from) \(field))", cause: error)
            }
            blobOK[d.digest] = ok
            return ok
        }

        mutating func visit(_ d: Descriptor, from: String, field: String, depth: Int) {
            guard depth < 8 else {
                problem(from, field, "image indexes nested more than 8 deep")
                return
            }
            let isDoc = d.mediaType.isIndex || d.mediaType.isManifest
            if isDoc && d.size > Int64(OCILayout.documentLimit) {
                problem(
                    from, field, "descriptor size \(d.size) exceeds the \(OCILayout.documentLimit)-byte document limit")
                return
            }
            guard checkBlob(d, from: from, field: field) else { return }
            guard isDoc else {
                // Unknown media types are allowed; their blob was checked.
                return
            }
            let bytes: [UInt8]
            do { bytes = try layout.readBlob(d) } catch {
                problem("blob \(d.digest)", nil, "cannot be read", cause: error)
                return
            }
            let source = (d.mediaType.isIndex ? "index " : "manifest ") + d.digest.string
            if d.mediaType.isIndex {
                let doc: EncodedDocument<ImageIndex>
                do { doc = try EncodedDocument<ImageIndex>(bytes: bytes, source: source) } catch let e as OCIWriterError
                {
                    problem(source, nil, e.message)
                    return
                } catch {
                    problem(source, nil, "cannot be decoded", cause: error)
                    return
                }
                if let t = doc.value.mediaType, t != d.mediaType {
                    problem(source, "mediaType", "document says \(t) but its descriptor in \(from) says \(d.mediaType)")
                }
                for (i, child) in doc.value.manifests.enumerated() {
                    visit(child, from: source, field: "manifests[\(i)]", depth: depth + 1)
                }
            } else {
                verifyManifest(d, bytes: bytes, source: source, from: from)
            }
        }

        mutating func verifyManifest(_ d: Descriptor, bytes: [UInt8], source: String, from: String) {
            if manifests.contains(d.digest) { return }
            manifests.append(d.digest)
            let manifest: Manifest
            do { manifest = try EncodedDocument<Manifest>(bytes: bytes, source: source).value } catch let e
                as OCIWriterError
            {
                problem(source, nil, e.message)
                return
            } catch {
                problem(source, nil, "cannot be decoded", cause: error)
                return
            }
            if let t = manifest.mediaType, t != d.mediaType {
                problem(source, "mediaType", "document says \(t) but its descriptor in \(from) says \(d.mediaType)")
            }
            if manifest.mediaType == nil && d.mediaType == .ociManifest {
                // Allowed by the spec for OCI manifests; nothing to report.
            }
            // A sigstore signature manifest (tag sha256-<hex>.sig) has an image config but payload layers: its blobs
            // are checked, not diffIDs or a platform.
            let isSignature =
                !manifest.layers.isEmpty && manifest.layers.allSatisfy { $0.mediaType == .cosignSimpleSigning }
            let isImage = manifest.config.mediaType.isImageConfig && !isSignature
            let configOK = checkBlob(manifest.config, from: source, field: "config")
            if d.mediaType == .ociManifest && manifest.config.mediaType == .dockerConfig {
                problem(source, "config.mediaType", "an OCI manifest refers to a Docker config media type")
            }

            // Layers: blob digest/size (one pass with decompression when the type is known), on all cores.
            if isImage {
                var seen = Set<Digest>()
                let pending = manifest.layers.filter {
                    $0.mediaType.layerCompression != nil && layerResults[$0.digest] == nil && layout.hasBlob($0.digest)
                        && seen.insert($0.digest).inserted
                }
                precomputed = Self.digestInParallel(pending, layout: layout, limits: limits)
            }
            var diffIDs: [Digest?] = []
            for (i, layer) in manifest.layers.enumerated() {
                let field = "layers[\(i)]"
                if d.mediaType == .ociManifest, layer.mediaType.rawValue.hasPrefix("application/vnd.docker.") {
                    problem(
                        source, "\(field).mediaType",
                        "an OCI manifest refers to a Docker layer media type (\(layer.mediaType))")
                }
                guard isImage else {
                    _ = checkBlob(layer, from: source, field: field)
                    diffIDs.append(nil)
                    continue
                }
                guard let compression = layer.mediaType.layerCompression else {
                    problem(
                        source, "\(field).mediaType",
                        "unknown layer media type \(layer.mediaType): cannot derive its diffID")
                    _ = checkBlob(layer, from: source, field: field)
                    diffIDs.append(nil)
                    continue
                }
                diffIDs.append(digestLayer(layer, compression: compression, from: source, field: field))
            }
            guard isImage else { return }
            checkImageBytes(manifest, source: source)
            guard configOK else { return }

            // Config structure and its agreement with the layers.
            let subject = "config \(manifest.config.digest)"
            let config: ImageConfig
            do { config = try layout.readDocument(ImageConfig.self, manifest.config).value } catch let e
                as OCIWriterError
            {
                problem(subject, nil, e.message)
                return
            } catch {
                problem(subject, nil, "cannot be decoded", cause: error)
                return
            }
            if config.architecture.isEmpty { problem(subject, "architecture", "must not be empty") }
            if config.os.isEmpty { problem(subject, "os", "must not be empty") }
            if config.rootfs.type != "layers" {
                problem(subject, "rootfs.type", "is '\(config.rootfs.type)', expected 'layers'")
            }
            if let p = d.platform, !(p.os == config.os && p.architecture == config.architecture) {
                problem(
                    from, "platform", "descriptor says \(p) but config \(manifest.config.digest) is \(config.platform)")
            }
            let want = config.rootfs.diffIDs
            if want.count != manifest.layers.count {
                problem(
                    subject, "rootfs.diff_ids",
                    "lists \(want.count) diff_ids but manifest \(d.digest) has \(manifest.layers.count) layers")
            }
            for (i, got) in diffIDs.enumerated() where i < want.count {
                guard let got else { continue }
                if got != want[i] {
                    problem(
                        subject, "rootfs.diff_ids[\(i)]",
                        "is \(want[i]), but layer \(manifest.layers[i].digest) decompresses to a tar with sha256 \(got)"
                    )
                }
            }
            if let history = config.history {
                let nonEmpty = history.filter { $0.emptyLayer != true }.count
                if nonEmpty != manifest.layers.count {
                    problem(
                        subject, "history",
                        "has \(nonEmpty) entries without empty_layer but the image has \(manifest.layers.count) layers")
                }
                for (i, h) in history.enumerated() {
                    if let c = h.created, !Self.isRFC3339(c) {
                        problem(subject, "history[\(i)].created", "'\(c)' is not an RFC 3339 timestamp")
                    }
                }
            }
            if let c = config.created, !Self.isRFC3339(c) {
                problem(subject, "created", "'\(c)' is not an RFC 3339 timestamp")
            }
        }

        /// Streams a layer: blob digest and size plus the diffID; nil when it could not be derived.
        mutating func digestLayer(_ layer: Descriptor, compression: LayerCompression, from: String, field: String)
            -> Digest?
        {
            if let cached = layerResults[layer.digest] {
                if let r = cached, r.size != layer.size {
                    problem(
                        "blob \(layer.digest)", nil,
                        "size mismatch: \(from) \(field) says \(layer.size) bytes, the blob has \(r.size)")
                }
                return cached?.diffID
            }
            if !layout.hasBlob(layer.digest), !(layer.urls ?? []).isEmpty {
                layerResults[layer.digest] = .some(nil)
                return nil
            }
            let path = layout.blobPath(layer.digest)
            var result: LayerBlobDigests?
            do {
                let r = try
                    (precomputed.removeValue(forKey: layer.digest)
                    ?? Result {
                        try LayerBlobDigester.digest(
                            file: path, compression: compression, limits: limits, name: layer.digest.string)
                    }).get()
                bytesRead += r.size
                layersChecked += 1
                var ok = true
                if r.size != layer.size {
                    ok = false
                    problem(
                        "blob \(layer.digest)", nil,
                        "size mismatch: descriptor (\(from) \(field)) says \(layer.size) bytes, the file has \(r.size)")
                }
                if r.digest != layer.digest {
                    ok = false
                    problem(
                        "blob \(layer.digest)", nil,
                        "digest mismatch: content hashes to \(r.digest) (referenced by \(from) \(field))")
                }
                blobOK[layer.digest] = ok
                if ok { actualSize[layer.digest] = r.size }
                result = r
            } catch let e as OCIWriterError where e.code == .limitExceeded {
                // A decompression bomb (or a limit set too low): the message names the layer and the limit.
                blobOK[layer.digest] = nil
                _ = checkBlob(layer, from: from, field: field)
                problem("layer \(layer.digest)", nil, e.message + " (referenced by \(from) \(field))")
            } catch let e as OCIWriterError {
                // Still report the raw blob check (size/digest) separately from the decompression failure.
                blobOK[layer.digest] = nil
                if checkBlob(layer, from: from, field: field) {
                    problem("layer \(layer.digest)", nil, "cannot decompress as \(compression): \(e.message)")
                }
            } catch {
                problem("layer \(layer.digest)", nil, "cannot be read (referenced by \(from) \(field))", cause: error)
            }
            layerResults[layer.digest] = .some(result)
            return result?.diffID
        }

        /// Fails the image whose layers together decompress past `limits.maxImageBytes`.
        mutating func checkImageBytes(_ manifest: Manifest, source: String) {
            var total: UInt64 = 0
            for layer in manifest.layers {
                guard let r = layerResults[layer.digest] ?? nil else { continue }
                total = total.addingReportingOverflow(UInt64(r.uncompressedSize)).partialValue
            }
            if total > limits.maxImageBytes {
                problem(
                    source, "layers",
                    "decompress to \(total) bytes, more than \(limits.maxImageBytes), the per-image limit (maxImageBytes)"
                )
            }
        }

        /// Digests layers on all cores within `limits`: blobs of `layout`, or the given `files` (same order as
        /// `layers`).
        static func digestInParallel(
            _ layers: [Descriptor], layout: OCILayout, files: [String]? = nil,
            limits: ExtractionLimits? = nil
        ) -> [Digest: Result<LayerBlobDigests, any Error>] {
            guard layers.count > 1 || files != nil else { return [:] }
            final class Results: @unchecked Sendable {
                let lock = NSLock()
                var values: [Digest: Result<LayerBlobDigests, any Error>] = [:]
            }
            let results = Results()
            DispatchQueue.concurrentPerform(iterations: layers.count) { i in
                let d = layers[i]
                let file = files?[i] ?? layout.blobPath(d.digest)
                let r = Result {
                    try LayerBlobDigester.digest(
                        file: file, compression: d.mediaType.layerCompression!, limits: limits, name: d.digest.string)
                }
                results.lock.withLock { results.values[d.digest] = r }
            }
            return results.values
        }

        mutating func checkUnreferencedBlobs() {
            let dir = layout.blobsDirectory
            guard let names = LayoutIO.listDirectory(dir) else {
                problem("blobs/sha256", nil, "cannot be listed")
                return
            }
            for name in names {
                guard let digest = try? Digest("sha256:" + name) else {
                    problem("blobs/sha256/\(name)", nil, "file name is not a sha256 digest (64 lowercase hex digits)")
                    continue
                }
                if blobOK[digest] != nil { continue }
                guard LayoutIO.kind(dir + "/" + name) == S_IFREG else {
                    problem("blob \(digest)", nil, "is not a regular file")
                    continue
                }
                var size: Int64 = 0
                if let fd = try? LayoutIO.openRegularFile(dir + "/" + name) {
                    size = (try? LayoutIO.fileSize(fd, path: name)) ?? 0
                    close(fd)
                }
                _ = checkBlob(
                    Descriptor(mediaType: "application/octet-stream", digest: digest, size: size), from: "blobs/sha256",
                    field: "(unreferenced)")
            }
        }

        static func isRFC3339(_ s: String) -> Bool {
            // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
            let u = Array(s.utf8)
            func digits(_ r: Range<Int>) -> Bool {
                r.upperBound <= u.count && u[r].allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
            }
            guard u.count >= 20, digits(0..<4), u[4] == 0x2D, digits(5..<7), u[7] == 0x2D, digits(8..<10),
                u[10] == 0x54 || u[10] == 0x74 || u[10] == 0x20, digits(11..<13), u[13] == 0x3A, digits(14..<16),
                u[16] == 0x3A, digits(17..<19)
            else { return false }
            var i = 19
            if u[i] == 0x2E {
                i += 1
                let start = i
                while i < u.count && u[i] >= 0x30 && u[i] <= 0x39 { i += 1 }
                if i == start { return false }
            }
            guard i < u.count else { return false }
            if u[i] == 0x5A || u[i] == 0x7A { return i + 1 == u.count }
            guard u[i] == 0x2B || u[i] == 0x2D else { return false }
            return u.count == i + 6 && digits(i + 1..<i + 3) && u[i + 3] == 0x3A && digits(i + 4..<i + 6)
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
