// Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
// Compiles contracts/src/*.sol with solcjs (standard JSON) into build/<Contract>.json: ABI, bytecode, metadata.
//
// Usage: node compile.js [--out DIR]   (DIR defaults to contracts/build; imports resolve from node_modules)
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const ROOT = __dirname;
const SRC = path.join(ROOT, "src");

function parseArgs(argv) {
  const out = { out: path.join(ROOT, "build") };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out") out.out = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return out;
}

function findImport(importPath) {
  for (const base of [ROOT, path.join(ROOT, "node_modules")]) {
    const file = path.join(base, importPath);
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  }
  return { error: `import not found: ${importPath}` };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const sources = {};
  for (const name of fs.readdirSync(SRC).filter((f) => f.endsWith(".sol")).sort()) {
    sources[`src/${name}`] = { content: fs.readFileSync(path.join(SRC, name), "utf8") };
  }
  const input = {
    language: "Solidity",
    sources,
    settings: {
      evmVersion: "cancun",
      viaIR: true,
      optimizer: { enabled: true, runs: 200 },
      metadata: { bytecodeHash: "ipfs" },
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
  if (errors.length) process.exit(1);

  fs.mkdirSync(args.out, { recursive: true });
  for (const file of Object.keys(sources)) {
    for (const [name, c] of Object.entries(output.contracts[file] || {})) {
      if (!c.evm.bytecode.object || c.abi.length === 0) continue; // interfaces, internal-only libraries
      const artifact = {
        contractName: name,
        sourceName: file,
        compiler: `solc ${solc.version()}`,
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
        metadata: c.metadata,
      };
      fs.writeFileSync(path.join(args.out, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
      process.stdout.write(`wrote ${path.join(args.out, name + ".json")}\n`);
    }
  }
}

main();
