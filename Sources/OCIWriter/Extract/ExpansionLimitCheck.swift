extension ExtractionLimits {
    /// The size limit that `uncompressed` bytes of `subject` (e.g. "layer sha256:…", the error's `path` being
    /// `path`) pass, as the error to throw; nil when
    /// within every limit. `compressed` is the number of compressed bytes read so far (nil when the layer is
    /// stored uncompressed: no expansion ratio); `imageBytesBefore` what earlier layers of the same image produced.
    /// Shared by extraction (`LayerStream`), `image verify` (`LayerBlobDigester`) and `ADD` of a local archive
    /// (`BoundedDecompressor`), so a bomb is refused with the same words wherever it is read.
    func exceeded(
        subject: String, path: String, uncompressed: UInt64, compressed: UInt64?, imageBytesBefore: UInt64 = 0
    )
        -> OCIWriterError?
    {
        if uncompressed > maxTotalBytes {
            return OCIWriterError(
                .limitExceeded,
                "\(subject) decompresses to more than \(maxTotalBytes) bytes, the per-layer limit (maxTotalBytes; decompression bomb?)",
                path: path)
        }
        let image = imageBytesBefore.addingReportingOverflow(uncompressed)
        if image.overflow || image.partialValue > maxImageBytes {
            return OCIWriterError(
                .limitExceeded,
                "\(subject) takes the image past \(maxImageBytes) uncompressed bytes, the per-image limit (maxImageBytes)",
                path: path)
        }
        if let compressed, uncompressed > expansionCheckBytes, uncompressed / max(compressed, 1) > maxExpansionRatio {
            return OCIWriterError(
                .limitExceeded,
                "\(subject) expands more than \(maxExpansionRatio):1 (\(uncompressed) bytes from \(compressed) compressed), the expansion-ratio limit (maxExpansionRatio; decompression bomb?)",
                path: path)
        }
        return nil
    }
}
