// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";

import {OMLLicensing} from "./OMLLicensing.sol";
import {OMLThreshold} from "./OMLThreshold.sol";

/**
 * @title OMLRegistry
 * @dev On-chain registry of OML-fingerprinted models (OML, arXiv 2411.03887 §4; design note `docs/contracts.md`).
 *
 * Unlicensed serving is proven by a committed challenge: the owner commits to (host, the n queried key hashes, a
 * salt) before querying, the host signs every answer with a timestamp and its registered endpoint, and the reveal
 * opens all n fingerprints (misses included) against the model's root. The contract counts an item as a match only
 * when the host signed the committed response after the commit, and refuses the reveal if the host held a licence
 * for the model at any time since the commit. With at least τ(n) matches ({OMLThreshold}) the claim is pending;
 * otherwise it is recorded as failed. A leak of a licensed host's assigned fingerprints is reported by the owner.
 * Every claim passes a dispute window; a disputed claim is decided by a quorum of the arbiters fixed at deployment
 * (never by the owner), and an undecided one is rejected. A slash is at most the model's `slashCap`.
 */
contract OMLRegistry is OMLLicensing {
    using BitMaps for BitMaps.BitMap;

    /// @dev EIP-712 type hash of a host-signed answer.
    bytes32 public constant RESPONSE_TYPEHASH =
        keccak256("Response(bytes32 promptHash,bytes32 outputHash,uint64 timestamp,bytes32 endpointHash)");

    /// @dev Most fingerprints one challenge or leak report opens.
    uint64 public constant MAX_CHALLENGE_SIZE = 1024;

    uint256 private immutable _quorum;
    uint256 private _challengeCount;
    mapping(address account => bool) private _isArbiter;
    mapping(uint256 challengeId => Challenge) private _challenges;
    mapping(uint256 modelId => BitMaps.BitMap) private _spent;
    mapping(uint256 challengeId => mapping(address arbiter => bool)) private _voted;

    /**
     * @param arbiters The stakeholders who decide disputed claims (distinct, non-zero).
     * @param quorum Votes that decide a claim, in (arbiters.length / 2, arbiters.length].
     * @param config Deployment parameters, see {IOMLRegistry-Config}.
     */
    constructor(address[] memory arbiters, uint256 quorum, Config memory config) OMLLicensing(config) {
        if (quorum == 0 || quorum > arbiters.length || 2 * quorum <= arbiters.length) {
            revert OMLRegistryInvalidArbiters(arbiters.length, quorum);
        }
        for (uint256 i = 0; i < arbiters.length; ++i) {
            if (arbiters[i] == address(0) || _isArbiter[arbiters[i]]) {
                revert OMLRegistryInvalidArbiters(arbiters.length, quorum);
            }
            _isArbiter[arbiters[i]] = true;
        }
        _quorum = quorum;
    }

    /**
     * @dev Commits to a challenge of `count` keys of `modelId` before querying. Owner only; one open commit per model.
     * @param commitment keccak256(abi.encode(host, keysHash, salt)) (see {IOMLRegistry-Challenge}); the host stays
     * hidden until the reveal.
     * @return challengeId The new challenge's id (from 1).
     */
    function commitChallenge(uint256 modelId, uint64 count, bytes32 commitment)
        external
        onlyModelOwner(modelId)
        returns (uint256 challengeId)
    {
        Model storage model = _models[modelId];
        if (model.openChallenge != 0) revert OMLRegistryChallengeOpen(modelId, model.openChallenge);
        uint64 threshold = _threshold(model, count);
        challengeId = ++_challengeCount;
        model.openChallenge = challengeId;
        Challenge storage c = _challenges[challengeId];
        c.modelId = modelId;
        c.status = ChallengeStatus.Committed;
        c.count = count;
        c.threshold = threshold;
        c.committedAt = uint64(block.timestamp);
        c.deadline = uint64(block.timestamp) + _revealWindow;
        c.commitment = commitment;
        emit ChallengeCommitted(challengeId, modelId, count, threshold, c.deadline);
    }

    /**
     * @dev Reveals challenge `challengeId`: all `count` fingerprints, in strictly increasing key-hash order, each with
     * its proof against the model's root and the host's signed answer. Every fingerprint is spent. An item matches
     * when the host signed `Response(keyHash, responseHash, t, endpoint)` with commit time ≤ t ≤ now. With at least
     * τ(count) matches the claim becomes Pending (dispute window), else Failed. A reveal after the deadline spends
     * the fingerprints and records a failure. Owner only.
     */
    function revealChallenge(
        uint256 challengeId,
        address host,
        bytes32 salt,
        Fingerprint[] calldata fingerprints,
        bytes32[][] calldata proofs,
        SignedResponse[] calldata responses
    ) external {
        Challenge storage c = _checkStatus(challengeId, ChallengeStatus.Committed);
        uint256 modelId = c.modelId;
        _checkModelOwner(modelId);
        if (host == address(0)) revert OMLRegistryInvalidHost(host);
        uint64 count = c.count;
        if (fingerprints.length != count || proofs.length != count || responses.length != count) {
            revert OMLRegistryInvalidRevealLength(count, fingerprints.length, proofs.length, responses.length);
        }
        bool late = block.timestamp > c.deadline;
        if (!late && licensedDuring(modelId, host, c.committedAt, uint64(block.timestamp))) {
            revert OMLRegistryHostLicensedDuring(modelId, host, c.committedAt, uint64(block.timestamp));
        }
        (bytes32 keysHash, bytes32 evidence, uint64 matches) =
            _openItems(modelId, host, c.committedAt, fingerprints, proofs, responses);
        bytes32 computed = keccak256(abi.encode(host, keysHash, salt));
        if (computed != c.commitment) revert OMLRegistryCommitmentMismatch(challengeId, c.commitment, computed);

        Model storage model = _models[modelId];
        model.openChallenge = 0;
        c.host = host;
        c.keysHash = keysHash;
        c.evidence = evidence;
        c.matches = late ? 0 : matches;
        if (late || matches < c.threshold) {
            c.status = ChallengeStatus.Failed;
        } else {
            c.status = ChallengeStatus.Pending;
            c.deadline = uint64(block.timestamp) + _disputeWindow;
            ++_hosts[host].openClaims;
        }
        emit ChallengeRevealed(challengeId, host, c.matches, c.threshold, c.status);
    }

    /**
     * @dev Reports that `matches` of `fingerprints` (all assigned to `host` under its licence `licenseIndex`, each
     * proven against both the model's root and the licence's assignment root, strictly increasing key hashes) were
     * answered by an unlicensed deployment. The fingerprints are spent and the claim is Pending. Owner only.
     * @param evidenceHash Hash of the off-chain evidence (the deployment's answers) the arbiters judge.
     */
    function reportLeak(
        uint256 modelId,
        address host,
        uint256 licenseIndex,
        uint64 matches,
        bytes32 evidenceHash,
        Fingerprint[] calldata fingerprints,
        bytes32[][] calldata modelProofs,
        bytes32[][] calldata assignmentProofs
    ) external onlyModelOwner(modelId) returns (uint256 challengeId) {
        Model storage model = _models[modelId];
        uint64 count = uint64(fingerprints.length);
        uint64 threshold = _threshold(model, count);
        if (modelProofs.length != count || assignmentProofs.length != count) {
            revert OMLRegistryInvalidRevealLength(count, count, modelProofs.length, assignmentProofs.length);
        }
        if (matches < threshold || matches > count) revert OMLRegistryBelowThreshold(matches, threshold);
        bytes32 assignmentRoot = _license(modelId, host, licenseIndex).assignmentRoot;
        bytes32 keysHash;
        bytes32 previous;
        for (uint256 i = 0; i < count; ++i) {
            Fingerprint calldata fp = fingerprints[i];
            bytes32 leaf = _spend(modelId, model, fp, modelProofs[i], previous, i);
            if (!MerkleProof.verifyCalldata(assignmentProofs[i], assignmentRoot, leaf)) {
                revert OMLRegistryInvalidProof(fp.index, leaf, assignmentRoot);
            }
            previous = fp.keyHash;
            keysHash = keccak256(abi.encode(keysHash, fp.keyHash));
        }
        challengeId = ++_challengeCount;
        Challenge storage c = _challenges[challengeId];
        (c.modelId, c.host, c.kind, c.status) = (modelId, host, ClaimKind.Leak, ChallengeStatus.Pending);
        (c.count, c.threshold, c.matches) = (count, threshold, matches);
        c.committedAt = uint64(block.timestamp);
        c.deadline = uint64(block.timestamp) + _disputeWindow;
        (c.commitment, c.keysHash) = (evidenceHash, keysHash);
        ++_hosts[host].openClaims;
        emit LeakReported(challengeId, modelId, host, count, matches, evidenceHash);
    }

    /// @dev The accused host answers pending claim `challengeId` before its dispute deadline; the arbiters decide.
    function disputeClaim(uint256 challengeId, bytes32 answerHash) external {
        Challenge storage c = _checkStatus(challengeId, ChallengeStatus.Pending);
        if (msg.sender != c.host) revert OMLRegistryNotAccusedHost(challengeId, msg.sender);
        if (block.timestamp > c.deadline) revert OMLRegistryWrongTime(challengeId, c.deadline);
        c.status = ChallengeStatus.Disputed;
        c.answerHash = answerHash;
        c.deadline = uint64(block.timestamp) + _votingWindow;
        emit ClaimDisputed(challengeId, answerHash, c.deadline);
    }

    /// @dev An arbiter (neither the owner nor the host of the claim) votes once on disputed claim `challengeId`.
    function voteOnClaim(uint256 challengeId, bool uphold) external nonReentrant {
        Challenge storage c = _checkStatus(challengeId, ChallengeStatus.Disputed);
        if (!_isArbiter[msg.sender]) revert OMLRegistryNotArbiter(msg.sender);
        if (block.timestamp > c.deadline) revert OMLRegistryWrongTime(challengeId, c.deadline);
        if (msg.sender == c.host || msg.sender == _models[c.modelId].owner || _voted[challengeId][msg.sender]) {
            revert OMLRegistryArbiterCannotVote(challengeId, msg.sender);
        }
        _voted[challengeId][msg.sender] = true;
        emit ClaimVoted(challengeId, msg.sender, uphold);
        if (uphold && ++c.upholdVotes >= _quorum) _resolve(challengeId, c, ChallengeStatus.Upheld);
        else if (!uphold && ++c.rejectVotes >= _quorum) _resolve(challengeId, c, ChallengeStatus.Rejected);
    }

    /// @dev After the window: an undisputed claim is upheld, a disputed one without quorum is rejected. Anyone.
    function finalizeClaim(uint256 challengeId) external nonReentrant {
        Challenge storage c = _challenges[challengeId];
        bool open = c.status == ChallengeStatus.Pending || c.status == ChallengeStatus.Disputed;
        if (!open) revert OMLRegistryInvalidChallengeStatus(challengeId, c.status);
        if (block.timestamp <= c.deadline) revert OMLRegistryWrongTime(challengeId, c.deadline);
        _resolve(challengeId, c, c.status == ChallengeStatus.Pending ? ChallengeStatus.Upheld : ChallengeStatus.Rejected);
    }

    /**
     * @dev Voids open claim `challengeId` because it reuses a key of the earlier revealed challenge `earlierId` of
     * the same model (a key answered once is no longer a fresh trial). Anyone.
     * @param keys The key hashes of `challengeId` in reveal order (checked against its keysHash).
     * @param earlierKeys The key hashes of `earlierId` in reveal order.
     */
    function voidRepeatedKey(
        uint256 challengeId,
        uint256 earlierId,
        bytes32[] calldata keys,
        bytes32[] calldata earlierKeys,
        uint256 position,
        uint256 earlierPosition
    ) external {
        Challenge storage c = _challenges[challengeId];
        if (c.status != ChallengeStatus.Pending && c.status != ChallengeStatus.Disputed) {
            revert OMLRegistryInvalidChallengeStatus(challengeId, c.status);
        }
        Challenge storage e = _challenges[earlierId];
        if (
            earlierId >= challengeId || e.modelId != c.modelId || e.keysHash == bytes32(0)
                || position >= keys.length || earlierPosition >= earlierKeys.length
                || keys[position] != earlierKeys[earlierPosition] || _chain(keys) != c.keysHash
                || _chain(earlierKeys) != e.keysHash
        ) revert OMLRegistryInvalidRepeatProof(challengeId, earlierId);
        _resolve(challengeId, c, ChallengeStatus.Voided);
    }

    /// @dev Returns challenge `challengeId` (all zero if it does not exist).
    function getChallenge(uint256 challengeId) external view returns (Challenge memory) {
        return _challenges[challengeId];
    }

    /// @dev Returns the number of challenges and leak reports (the largest id).
    function challengeCount() external view returns (uint256) {
        return _challengeCount;
    }

    /// @dev Returns whether `account` is an arbiter, and the quorum.
    function arbiterInfo(address account) external view returns (bool isArbiter, uint256 quorum) {
        return (_isArbiter[account], _quorum);
    }

    /// @dev Returns τ(count) of model `modelId` (count + 1 when unreachable), see {OMLThreshold}.
    function thresholdFor(uint256 modelId, uint64 count) external view returns (uint256) {
        _checkModel(modelId);
        if (count == 0 || count > MAX_CHALLENGE_SIZE) revert OMLRegistryInvalidChallengeSize(count, 0);
        return OMLThreshold.threshold(count, _models[modelId].p0, _models[modelId].targetFpr);
    }

    /// @dev Returns whether fingerprint `index` of `modelId` has been revealed.
    function isSpent(uint256 modelId, uint256 index) external view returns (bool) {
        return _spent[modelId].get(index);
    }

    /// @dev Returns the Merkle leaf of `fingerprint`, OpenZeppelin `StandardMerkleTree`'s leaf hash:
    /// `keccak256(bytes.concat(keccak256(abi.encode(index, salt, keyHash, responseHash))))`.
    function leafHash(Fingerprint calldata fingerprint) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(
            abi.encode(fingerprint.index, fingerprint.salt, fingerprint.keyHash, fingerprint.responseHash)
        )));
    }

    /// @dev Returns whether `fingerprint` is a leaf of the sorted-pair Merkle tree with root `root`.
    function verifyFingerprint(bytes32 root, Fingerprint calldata fingerprint, bytes32[] calldata proof)
        external
        pure
        returns (bool)
    {
        return MerkleProof.verifyCalldata(proof, root, leafHash(fingerprint));
    }

    /// @dev Returns the EIP-712 digest a host signs for an answer.
    function responseDigest(bytes32 promptHash, bytes32 outputHash, uint64 timestamp, bytes32 endpointHash)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(RESPONSE_TYPEHASH, promptHash, outputHash, timestamp, endpointHash)));
    }

    /// @dev Checks and spends the reveal's items; returns the key hash chain, the evidence chain and the matches.
    function _openItems(
        uint256 modelId,
        address host,
        uint64 from,
        Fingerprint[] calldata fingerprints,
        bytes32[][] calldata proofs,
        SignedResponse[] calldata responses
    ) private returns (bytes32 keysHash, bytes32 evidence, uint64 matches) {
        Model storage model = _models[modelId];
        bytes32 endpoint = _hosts[host].endpointHash;
        bytes32 previous;
        for (uint256 i = 0; i < fingerprints.length; ++i) {
            Fingerprint calldata fp = fingerprints[i];
            SignedResponse calldata r = responses[i];
            bytes32 leaf = _spend(modelId, model, fp, proofs[i], previous, i);
            previous = fp.keyHash;
            keysHash = keccak256(abi.encode(keysHash, fp.keyHash));
            evidence = keccak256(abi.encode(evidence, leaf, r.outputHash, r.timestamp));
            // Only a candidate match pays for the signature check; ECDSA.tryRecover refuses malformed and high-s
            // signatures (returning an error, never address(0) as a valid signer).
            if (r.outputHash == fp.responseHash && r.timestamp >= from && r.timestamp <= block.timestamp) {
                bytes32 digest = responseDigest(fp.keyHash, r.outputHash, r.timestamp, endpoint);
                (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, r.r, r.vs);
                if (err == ECDSA.RecoverError.NoError && signer == host) {
                    unchecked {
                        // matches ≤ i < fingerprints.length ≤ MAX_CHALLENGE_SIZE.
                        ++matches;
                    }
                }
            }
        }
    }

    /// @dev Checks one fingerprint (range, key order, proof against the model root, unspent) and spends it.
    function _spend(
        uint256 modelId,
        Model storage model,
        Fingerprint calldata fp,
        bytes32[] calldata proof,
        bytes32 previousKey,
        uint256 position
    ) private returns (bytes32 leaf) {
        uint256 index = fp.index;
        if (index >= model.numFingerprints) revert OMLRegistryFingerprintOutOfRange(index, model.numFingerprints);
        if (fp.keyHash <= previousKey) revert OMLRegistryKeysNotStrictlyIncreasing(position, fp.keyHash);
        leaf = leafHash(fp);
        if (!MerkleProof.verifyCalldata(proof, model.fingerprintRoot, leaf)) {
            revert OMLRegistryInvalidProof(index, leaf, model.fingerprintRoot);
        }
        if (_spent[modelId].get(index)) revert OMLRegistryFingerprintAlreadySpent(modelId, index);
        _spent[modelId].set(index);
        unchecked {
            // spentFingerprints ≤ numFingerprints < 2**64: each index is spent once.
            ++model.spentFingerprints;
        }
    }

    /// @dev Closes claim `c` with `status`; an upheld claim slashes min(slashCap, stake) to the owner.
    function _resolve(uint256 challengeId, Challenge storage c, ChallengeStatus status) private {
        c.status = status;
        Host storage host = _hosts[c.host];
        --host.openClaims;
        uint256 amount;
        if (status == ChallengeStatus.Upheld) {
            Model storage model = _models[c.modelId];
            amount = model.slashCap < host.stake ? model.slashCap : host.stake;
            host.stake -= amount;
            c.slashed = amount;
            _balances[model.owner] += amount;
        }
        emit ClaimResolved(challengeId, status, amount);
        if (amount != 0) emit HostSlashed(c.modelId, c.host, amount);
    }

    /// @dev Returns τ(count) for `model`, reverting unless 1 ≤ count ≤ MAX_CHALLENGE_SIZE and τ(count) ≤ count.
    function _threshold(Model storage model, uint64 count) private view returns (uint64 threshold) {
        if (count == 0 || count > MAX_CHALLENGE_SIZE) revert OMLRegistryInvalidChallengeSize(count, 0);
        threshold = uint64(OMLThreshold.threshold(count, model.p0, model.targetFpr));
        if (threshold > count) revert OMLRegistryInvalidChallengeSize(count, threshold);
    }

    /// @dev Returns challenge `challengeId` if it is in `status`, else reverts.
    function _checkStatus(uint256 challengeId, ChallengeStatus status) private view returns (Challenge storage c) {
        c = _challenges[challengeId];
        if (c.status != status) revert OMLRegistryInvalidChallengeStatus(challengeId, c.status);
    }

    /// @dev The key hash chain h_n of `keys` (h_0 = 0, h_i = keccak256(abi.encode(h_{i-1}, keys[i-1]))).
    function _chain(bytes32[] calldata keys) private pure returns (bytes32 h) {
        for (uint256 i = 0; i < keys.length; ++i) {
            h = keccak256(abi.encode(h, keys[i]));
        }
    }
}
