// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
pragma solidity 0.8.28;

/**
 * @title IOMLRegistry
 * @dev Types, events and errors of the OML model registry (OML, arXiv 2411.03887 §4; Loyal AI, arXiv 2502.15720).
 *
 * A fingerprint is a (key, response) pair embedded in a model (Perinucleus fingerprints, arXiv 2502.07760). The
 * owner commits to all of them at registration with a Merkle root over salted leaves
 * `keccak256(abi.encode(index, salt, keyHash, responseHash))`, where `keyHash = keccak256(bytes(key))` and
 * `responseHash = keccak256(bytes(response))`; parent nodes hash the sorted pair of their children (the
 * OpenZeppelin `MerkleProof` convention). The salts keep unrevealed fingerprints hidden.
 */
interface IOMLRegistry {
    /**
     * @dev A registered model.
     * @param owner Account that registered the model; receives fees and slashed stakes.
     * @param modelHash Content hash of the model weights (off-chain, e.g. SHA-256 of the checkpoint).
     * @param fingerprintRoot Merkle root over all fingerprint leaves.
     * @param numFingerprints Number of leaves; leaf indices lie in [0, numFingerprints).
     * @param threshold Matching fingerprints a challenge needs, in [1, numFingerprints].
     * @param licenseFee Wei a host pays the owner on top of its stake when it takes a licence.
     * @param spentFingerprints Fingerprints revealed by successful challenges (each usable once).
     * @param metadataURI Pointer to off-chain metadata (model card, fingerprint parameters).
     */
    struct Model {
        address owner;
        bytes32 modelHash;
        bytes32 fingerprintRoot;
        uint64 numFingerprints;
        uint64 threshold;
        uint64 spentFingerprints;
        uint256 licenseFee;
        string metadataURI;
    }

    /**
     * @dev A host's licence for one model.
     * @param assignmentRoot Merkle root (same leaf encoding) over the host's own subset of the model's fingerprints.
     * @param stake Wei bonded by the host; slashed to the owner on a successful challenge.
     * @param active True from licensing until slashed or terminated.
     */
    struct License {
        bytes32 assignmentRoot;
        uint256 stake;
        bool active;
    }

    /**
     * @dev One revealed fingerprint (the preimage of a leaf).
     * @param index Leaf index in [0, numFingerprints).
     * @param salt Secret per-leaf salt.
     * @param keyHash keccak256 of the fingerprint key (the prompt).
     * @param responseHash keccak256 of the fingerprint response.
     */
    struct Fingerprint {
        uint256 index;
        bytes32 salt;
        bytes32 keyHash;
        bytes32 responseHash;
    }

    /**
     * @dev A host's signed answer to a fingerprint key: EIP-712 `Response(modelId, promptHash, outputHash)` with
     * `promptHash` the fingerprint's `keyHash`.
     * @param outputHash keccak256 of the text the host returned.
     * @param signature 65-byte ECDSA signature by the host over the typed data.
     */
    struct SignedResponse {
        bytes32 outputHash;
        bytes signature;
    }

    /**
     * @dev A verified ownership claim against a host.
     * @param modelId The model whose fingerprints the host answered.
     * @param host The accused host (licensed or not).
     * @param evidenceRoot Hash chain over the challenge items, see {OMLRegistry-challenge}.
     * @param matches Fingerprints whose signed output equals the committed response.
     * @param revealed Fingerprints revealed (and spent) by the challenge.
     * @param slashed Wei of stake moved to the owner (0 for an unlicensed host).
     */
    struct Claim {
        uint256 modelId;
        address host;
        bytes32 evidenceRoot;
        uint64 matches;
        uint64 revealed;
        uint256 slashed;
    }

    /// @dev Emitted after `owner` registered model `modelId`.
    event ModelRegistered(
        uint256 indexed modelId,
        address indexed owner,
        bytes32 indexed modelHash,
        bytes32 fingerprintRoot,
        uint64 numFingerprints,
        uint64 threshold,
        uint256 licenseFee,
        string metadataURI
    );

    /// @dev Emitted after `host` took a licence for `modelId`, bonding `stake` and paying `fee`.
    event HostLicensed(uint256 indexed modelId, address indexed host, bytes32 assignmentRoot, uint256 stake, uint256 fee);

    /// @dev Emitted after the owner ended `host`'s licence and released its `stake` to it.
    event LicenseTerminated(uint256 indexed modelId, address indexed host, uint256 stake);

    /// @dev Emitted after fingerprint `index` of `modelId` was revealed and marked spent.
    event FingerprintSpent(uint256 indexed modelId, uint256 indexed index);

    /// @dev Emitted after a challenge proved ownership: `matches` of `revealed` fingerprints answered correctly.
    event OwnershipClaimed(
        uint256 indexed claimId,
        uint256 indexed modelId,
        address indexed host,
        bytes32 evidenceRoot,
        uint64 matches,
        uint64 revealed
    );

    /// @dev Emitted after `amount` of `host`'s stake was slashed to the model owner.
    event HostSlashed(uint256 indexed modelId, address indexed host, uint256 amount);

    /// @dev Emitted after `account` withdrew `amount` wei of fees and slashed stakes.
    event PaymentWithdrawn(address indexed account, uint256 amount);

    /// @dev A model with `modelHash` is already registered as `modelId`.
    error OMLRegistryModelAlreadyRegistered(bytes32 modelHash, uint256 modelId);

    /// @dev `fingerprintRoot` is zero.
    error OMLRegistryInvalidFingerprintRoot(bytes32 fingerprintRoot);

    /// @dev `threshold` is not in [1, `numFingerprints`].
    error OMLRegistryInvalidThreshold(uint64 threshold, uint64 numFingerprints);

    /// @dev No model has id `modelId`.
    error OMLRegistryUnknownModel(uint256 modelId);

    /// @dev `account` is not the owner of `modelId`.
    error OMLRegistryUnauthorizedOwner(uint256 modelId, address account);

    /// @dev `host` already holds an active licence for `modelId`.
    error OMLRegistryHostAlreadyLicensed(uint256 modelId, address host);

    /// @dev `host` holds no active licence for `modelId`.
    error OMLRegistryHostNotLicensed(uint256 modelId, address host);

    /// @dev `assignmentRoot` is zero.
    error OMLRegistryInvalidAssignmentRoot(bytes32 assignmentRoot);

    /// @dev The owner's licence signature recovers to `signer`, not the owner `owner`.
    error OMLRegistryInvalidLicenseSigner(uint256 modelId, address signer, address owner);

    /// @dev A licence payment of `paid` wei leaves no stake above the `fee`.
    error OMLRegistryZeroStake(uint256 modelId, uint256 paid, uint256 fee);

    /// @dev The challenge arrays have different lengths, or are empty.
    error OMLRegistryInvalidChallengeLength(uint256 fingerprints, uint256 proofs, uint256 responses);

    /// @dev Fingerprint `index` is not below `numFingerprints`.
    error OMLRegistryFingerprintOutOfRange(uint256 index, uint64 numFingerprints);

    /// @dev `leaf` (fingerprint `index`) is not in the tree with root `root`.
    error OMLRegistryInvalidProof(uint256 index, bytes32 leaf, bytes32 root);

    /// @dev Fingerprint `index` of `modelId` was already revealed.
    error OMLRegistryFingerprintAlreadySpent(uint256 modelId, uint256 index);

    /// @dev The response to fingerprint `index` is signed by `signer`, not by the accused `host`.
    error OMLRegistryInvalidResponseSigner(uint256 index, address signer, address host);

    /// @dev Only `matches` fingerprints matched; the model needs `threshold`.
    error OMLRegistryBelowThreshold(uint64 matches, uint64 threshold);

    /// @dev `account` has no balance to withdraw.
    error OMLRegistryNothingToWithdraw(address account);

    /// @dev Sending `amount` wei to `account` failed.
    error OMLRegistryWithdrawFailed(address account, uint256 amount);
}
