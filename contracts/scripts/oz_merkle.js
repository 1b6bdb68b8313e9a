// Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
// Rebuilds a fingerprint tree with @openzeppelin/merkle-tree's StandardMerkleTree (the JS tooling's layout).
//
// Usage: node scripts/oz_merkle.js < values.json
//   values.json: [[index, "0xsalt", "0xkeyHash", "0xresponseHash"], ...] (the leaf values, in order)
// Prints {"root": "0x..", "proofs": [[...], ...], "leaves": ["0x..", ...], "verified": true} (proofs in input order).
"use strict";

const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const ENCODING = ["uint256", "bytes32", "bytes32", "bytes32"];
const values = JSON.parse(require("fs").readFileSync(0, "utf8"));
const tree = StandardMerkleTree.of(values, ENCODING);
const proofs = values.map((_, i) => tree.getProof(i));
const verified = values.every((v, i) => StandardMerkleTree.verify(tree.root, ENCODING, v, proofs[i]));
process.stdout.write(JSON.stringify({ root: tree.root, proofs, leaves: values.map((v) => tree.leafHash(v)), verified }) + "\n");
