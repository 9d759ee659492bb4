/// Layer-by-layer comparison of two images (a rebuild against the original): equal layers by digest, and for each
/// differing layer the file-level differences.
public struct ImageComparison: Sendable, Codable {
    public struct FileDifference: Sendable, Codable, Hashable {
        public var path: String
        /// `only-in-first`, `only-in-second`, or the differing fields (`content`, `mtime`, `mode`, …).
        public var what: [String]
    }

    public struct LayerResult: Sendable, Codable {
        public var index: Int
        public var first: Digest?
        public var second: Digest?
        public var equal: Bool
        /// Empty when equal; the differing files otherwise (sorted by path). A layer whose entries are all equal
        /// yet whose bytes differ gets one entry `(tar stream)` naming the order/encoding difference.
        public var files: [FileDifference]
    }

    public var firstManifest: Digest
    public var secondManifest: Digest
    public var configEqual: Bool
    public var layers: [LayerResult]

    public var equal: Bool { firstManifest == secondManifest }

    /// Compares the layers of `a` and `b` (same position); blobs are read from their layouts.
    public static func compare(_ a: ResolvedImage, _ b: ResolvedImage) throws -> ImageComparison {
        let la = try a.layerBlobs(verify: false), lb = try b.layerBlobs(verify: false)
        var results: [LayerResult] = []
        for i in 0..<max(la.count, lb.count) {
            let x = i < la.count ? la[i] : nil, y = i < lb.count ? lb[i] : nil
            if let x, let y, x.descriptor.digest == y.descriptor.digest {
                results.append(
                    LayerResult(
                        index: i, first: x.descriptor.digest, second: y.descriptor.digest, equal: true, files: []))
                continue
            }
            let ex = try x.map { try LayerListing.entries(ofLayer: $0.path) } ?? []
            let ey = try y.map { try LayerListing.entries(ofLayer: $0.path) } ?? []
            results.append(
                LayerResult(
                    index: i, first: x?.descriptor.digest, second: y?.descriptor.digest, equal: false,
                    files: fileDifferences(ex, ey)))
        }
        return ImageComparison(
            firstManifest: a.manifestDescriptor.digest, secondManifest: b.manifestDescriptor.digest,
            configEqual: a.manifest.value.config.digest == b.manifest.value.config.digest, layers: results)
    }

    static func fileDifferences(_ a: [LayerEntryFacts], _ b: [LayerEntryFacts]) -> [FileDifference] {
        let ma = Dictionary(a.map { ($0.path, $0) }, uniquingKeysWith: { $1 })
        let mb = Dictionary(b.map { ($0.path, $0) }, uniquingKeysWith: { $1 })
        var out: [FileDifference] = []
        for path in Set(ma.keys).union(mb.keys).sorted() {
            switch (ma[path], mb[path]) {
            case (let x?, let y?):
                let d = x.differences(from: y)
                if !d.isEmpty { out.append(FileDifference(path: path, what: d)) }
            case (_?, nil): out.append(FileDifference(path: path, what: ["only-in-first"]))
            case (nil, _?): out.append(FileDifference(path: path, what: ["only-in-second"]))
            default: break
            }
        }
        if out.isEmpty {
            let order = a.map(\.path) != b.map(\.path) ? "entry order" : "tar headers or compression"
            out.append(FileDifference(path: "(tar stream)", what: [order]))
        }
        return out
    }
}
