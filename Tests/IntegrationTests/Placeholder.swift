import Testing
import OCIWriter

@Test func mediaTypesRoundTrip() { #expect(MediaType.ociLayerGzip.layerCompression == .gzip) }
