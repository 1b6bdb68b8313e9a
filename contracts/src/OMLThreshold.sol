// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/**
 * @title OMLThreshold
 * @dev The match threshold τ(n) of a challenge of n fingerprint keys, computed on chain.
 *
 * Under the null hypothesis "the host serves a model independent of the fingerprints", each of the n distinct keys
 * matches its response with probability at most p₀, independently, so the match count X is dominated by Bin(n, p₀)
 * (arXiv 2502.07760 §2) and τ(n) = min{k : P[Bin(n, p₀) ≥ k] ≤ FPR} bounds the false-claim probability by FPR for
 * every n. The tail is bounded from above in 1e72 fixed point (ONE; q^n ≥ 1e-29 for p₀ ≤ 1/16 and n ≤ 1024, so the
floors cost < 1e-40 relative; when q^n < 1e-72, e.g. p₀ = 0.17 and n ≥ 860, L_0 underflows to 0, which only raises
τ): with q = 1 − p₀,
 * L_0 = ⌊q^n⌋ (square-and-multiply, every product floored), L_j = ⌊L_{j-1}·(n − j + 1)·p₀ / (j·q)⌋ ≤ P[X = j], and
 * P[X ≥ k] = 1 − Σ_{j<k} P[X = j] ≤ 1 − Σ_{j<k} L_j. Flooring only lowers the L_j, so the bound stays an upper bound
 * and τ(n) is never below the exact binomial threshold. `loyal.protocols.oml.statistics.chain_threshold` is the
 * bit-exact Python mirror; docs/contracts.md tabulates it beside scipy's exact threshold.
 */
library OMLThreshold {
    /// @dev Fixed-point one of the inputs.
    uint256 internal constant WAD = 1e18;
    /// @dev Fixed-point one of the tail computation.
    uint256 internal constant ONE = 1e72;

    /**
     * @dev Returns τ(n) for chance-match bound `p0` and false-claim target `fpr` (both WAD, in (0, WAD)), or n + 1
     * when no k ≤ n reaches `fpr`. Products go through 512-bit `Math.mulDiv`; `below` ≤ ONE never overflows.
     */
    function threshold(uint256 n, uint256 p0, uint256 fpr) internal pure returns (uint256) {
        uint256 q = WAD - p0;
        uint256 term = _pow(q * (ONE / WAD), n); // L_0; q in ONE is exact
        uint256 below; // Σ_{j<k} L_j ≤ ONE
        uint256 target = fpr * (ONE / WAD); // FPR in ONE
        for (uint256 k = 1; k <= n; ++k) {
            below += term;
            if (ONE - below <= target) return k;
            term = Math.mulDiv(term, (n - k + 1) * p0, k * q);
        }
        return n + 1;
    }

    /// @dev ⌊x^e⌋ in ONE fixed point (x ≤ ONE), every product floored.
    function _pow(uint256 x, uint256 e) private pure returns (uint256 result) {
        result = ONE;
        while (e != 0) {
            if (e & 1 == 1) result = Math.mulDiv(result, x, ONE);
            x = Math.mulDiv(x, x, ONE);
            e >>= 1;
        }
    }
}
