export default function adapter() { return { name: "adapter-node (vendored stand-in)" }; }
