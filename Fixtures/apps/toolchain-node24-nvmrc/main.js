console.log("second app on node " + process.versions.node.split(".")[0]);
