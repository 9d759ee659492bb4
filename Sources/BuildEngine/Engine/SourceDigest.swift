import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// The digest of the source files a build read: SHA-256 over one line per file, sorted by path, of the relative
/// path, the kind (`f` regular, `x` executable, `l` symlink, `d` directory) and the content's SHA-256 or the link
/// target. Independent of where the directory is, of times and of owners (what a checkout reproduces).
enum SourceDigest {
    static func of(directory: String, files: [String]) throws(BuildEngineError) -> Digest {
        var hasher = SHA256Hasher()
        for file in files.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            let path = directory + "/" + file
            var st = stat()
            guard lstat(path, &st) == 0 else {
                throw BuildEngineError(
                    .invalidInput,
                    "\(path): \(String(cString: strerror(errno))) (a source file of the build disappeared during it)")
            }
            let line: String
            switch st.st_mode & S_IFMT {
            case S_IFREG: line = "\(st.st_mode & 0o111 != 0 ? "x" : "f") \(try CacheKey.fileDigest(path).hex)"
            case S_IFLNK: line = "l \((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "")"
            case S_IFDIR: line = "d"
            default: continue
            }
            hasher.update(Array("\(file)\u{0}\(line)\n".utf8))
        }
        return hasher.finalize()
    }
}
