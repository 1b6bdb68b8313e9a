// Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
// Only `npx hardhat node` is used (tests run the registry on it); compilation is contracts/compile.js (solcjs).
module.exports = {
  solidity: "0.8.28",
  networks: { hardhat: { hardfork: "cancun", chainId: 31337 } },
};
