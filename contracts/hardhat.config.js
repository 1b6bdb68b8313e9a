// Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
// `npx hardhat node` runs the chain the tests use; `npx hardhat compile` builds src/ with the same compiler
// (the solcjs 0.8.28 in node_modules: no download) and the same settings as compile.js, so its artifacts'
// bytecode equals the committed build/*.json byte for byte (tests/contracts/test_contracts_build.py).
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  const solc = require("solc");
  return {
    compilerPath: path.join(path.dirname(require.resolve("solc/package.json")), "soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version(),
  };
});

module.exports = {
  solidity: {
    version: SOLC_VERSION,
    // Keep in step with compile.js.
    settings: {
      evmVersion: "cancun",
      viaIR: true,
      optimizer: { enabled: true, runs: 200 },
      metadata: { bytecodeHash: "ipfs" },
    },
  },
  // Tests compile into a temporary folder (LOYAL_HARDHAT_OUT) so the checkout stays clean.
  paths: {
    sources: "./src",
    artifacts: process.env.LOYAL_HARDHAT_OUT ? path.join(process.env.LOYAL_HARDHAT_OUT, "artifacts") : "./artifacts",
    cache: process.env.LOYAL_HARDHAT_OUT ? path.join(process.env.LOYAL_HARDHAT_OUT, "cache") : "./cache",
  },
  networks: { hardhat: { hardfork: "cancun", chainId: 31337 } },
};
