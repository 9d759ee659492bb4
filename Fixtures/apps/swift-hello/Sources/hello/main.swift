#if compiler(>=6.0)
    let compiler = "6.0 or newer"
#else
    let compiler = "older than 6.0"
#endif
let words = ["hello", "from", "swift"]
print(words.joined(separator: " ") + ", compiler " + compiler)
