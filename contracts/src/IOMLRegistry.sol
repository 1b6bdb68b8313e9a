// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
pragma solidity 0.8.28;

/**
 * @title IOMLRegistry
 * @dev Types, events and errors of the OML model registry (OML, arXiv 2411.03887 §4; Loyal AI, arXiv 2502.15720;
 * design note `docs/contracts.md`).
 *
 * A fingerprint is a (key, response) pair embedded in a model (Perinucleus fingerprints, arXiv 2502.07760). The
 * owner commits to all of them at registration with a Merkle root over salted leaves
 * `keccak256(bytes.concat(keccak256(abi.encode(index, salt, keyHash, responseHash))))`; parent nodes hash the
 * sorted pair of their children (OpenZeppelin `StandardMerkleTree` and `MerkleProof`). Hosts stake once to join the platform; licences are time intervals taken from
 * owner-signed offers. A stake is slashed only (a) for host-signed answers to committed fingerprint keys given at a
 * time the host held no licence for the model, or (b) for a leak of a licensed host's assigned fingerprints; both
 * pass a dispute window the host can answer, and a disputed claim is decided by a quorum of arbiters.
 */
interface IOMLRegistry {
    /// @dev What a claim accuses the host of.
    enum ClaimKind {
        Serving, // answered committed fingerprint keys while unlicensed (checked on chain)
        Leak // its assigned fingerprints appeared in an unlicensed deployment (judged by the arbiters)
    }

    /// @dev Life cycle of a challenge: Committed → Failed | Pending → (Disputed →) Upheld | Rejected; Voided on a
    /// repeated-key proof.
    enum ChallengeStatus {
        None,
        Committed,
        Failed,
        Pending,
        Disputed,
        Upheld,
        Rejected,
        Voided
    }

    /**
     * @dev Deployment parameters (fixed for the registry's life).
     * @param minHostStake Wei a host bonds to join the platform, > 0.
     * @param noticePeriod Seconds between a host's exit request and its stake release; also the grace period of a
     * licence termination. Must exceed `revealWindow + disputeWindow`.
     * @param revealWindow Seconds the owner has to reveal a committed challenge, > 0.
     * @param disputeWindow Seconds the accused host has to dispute a claim, > 0.
     * @param votingWindow Seconds the arbiters have to reach the quorum on a disputed claim, > 0.
     */
    struct Config {
        uint256 minHostStake;
        uint64 noticePeriod;
        uint64 revealWindow;
        uint64 disputeWindow;
        uint64 votingWindow;
    }

    /**
     * @dev A registered model.
     * @param owner Account that registered the model; receives fees and slashed stakes.
     * @param modelHash Content hash of the weights; unique per owner (ids are bound to the registrant).
     * @param fingerprintRoot Merkle root over all fingerprint leaves.
     * @param numFingerprints Number of leaves; leaf indices lie in [0, numFingerprints).
     * @param spentFingerprints Fingerprints revealed so far (each usable once).
     * @param p0 Per-key chance-match bound of an independent model, WAD (1e18 = 1), in (0, MAX_P0].
     * @param targetFpr False-claim probability per challenge, WAD, in (0, 1e18).
     * @param slashCap Most wei one claim can slash.
     * @param openChallenge Id of the model's unrevealed commit, 0 if none (one at a time).
     * @param metadataURI Pointer to off-chain metadata (model card, fingerprint parameters).
     */
    struct Model {
        address owner;
        bytes32 modelHash;
        bytes32 fingerprintRoot;
        uint64 numFingerprints;
        uint64 spentFingerprints;
        uint64 p0;
        uint64 targetFpr;
        uint256 slashCap;
        uint256 openChallenge;
        string metadataURI;
    }

    /**
     * @dev A platform host.
     * @param stake Bonded wei (one stake for every licence).
     * @param endpointHash keccak256 of the host's endpoint URL, signed into every answer; non-zero once joined.
     * @param exitAt When the stake can be withdrawn (0: no exit requested).
     * @param openClaims Pending or disputed claims against the host; the stake stays while any is open.
     */
    struct Host {
        uint256 stake;
        bytes32 endpointHash;
        uint64 exitAt;
        uint64 openClaims;
    }

    /**
     * @dev An owner's licence offer to one host (EIP-712 `License`, the host is the caller of {acceptLicense}).
     * @param modelId The model.
     * @param assignmentRoot Merkle root (same leaf encoding) over the host's fingerprint subset.
     * @param term Licence length in seconds, > 0.
     * @param expiry Last timestamp at which the offer can be accepted.
     * @param fee Wei paid to the owner on acceptance.
     * @param nonce Per-model offer number; used once, and revocable by the owner.
     */
    struct LicenseOffer {
        uint256 modelId;
        bytes32 assignmentRoot;
        uint64 term;
        uint64 expiry;
        uint256 fee;
        uint256 nonce;
    }

    /// @dev One licence period [start, end) of a host for a model, from offer `nonce`.
    struct License {
        uint64 start;
        uint64 end;
        uint256 nonce;
        bytes32 assignmentRoot;
    }

    /// @dev One revealed fingerprint (the preimage of a leaf).
    struct Fingerprint {
        uint256 index;
        bytes32 salt;
        bytes32 keyHash;
        bytes32 responseHash;
    }

    /**
     * @dev A host's signed answer: EIP-712 `Response(promptHash, outputHash, timestamp, endpointHash)` with the
     * host's registered endpoint, in EIP-2098 compact form (r, vs).
     */
    struct SignedResponse {
        bytes32 outputHash;
        uint64 timestamp;
        bytes32 r;
        bytes32 vs;
    }

    /**
     * @dev A challenge and, once revealed, the claim it makes.
     * @param deadline Reveal deadline (Committed), dispute deadline (Pending) or voting deadline (Disputed).
     * @param commitment keccak256(abi.encode(host, keysHash, salt)) for Serving; the evidence hash for Leak.
     * @param keysHash Hash chain over the revealed key hashes in increasing order: h_0 = 0,
     * h_i = keccak256(abi.encode(h_{i-1}, keyHash_i)).
     * @param evidence Hash chain over (leaf, outputHash, timestamp) of the revealed items (Serving).
     * @param answerHash The host's answer to a dispute (pointer to its off-chain evidence).
     */
    struct Challenge {
        uint256 modelId;
        address host;
        ClaimKind kind;
        ChallengeStatus status;
        uint64 count;
        uint64 threshold;
        uint64 matches;
        uint64 committedAt;
        uint64 deadline;
        uint64 upholdVotes;
        uint64 rejectVotes;
        bytes32 commitment;
        bytes32 keysHash;
        bytes32 evidence;
        bytes32 answerHash;
        uint256 slashed;
    }

    /// @dev Emitted after `owner` registered model `modelId` (p0 and targetFpr in WAD).
    event ModelRegistered(
        uint256 indexed modelId, address indexed owner, bytes32 indexed modelHash, bytes32 fingerprintRoot,
        uint64 numFingerprints, uint64 p0, uint64 targetFpr, uint256 slashCap, string metadataURI
    );
    /// @dev Emitted after `host` joined the platform, bonding `stake`.
    event HostJoined(address indexed host, uint256 stake, bytes32 endpointHash);
    /// @dev Emitted after `host` asked to exit; its stake is free at `exitAt` if no claim is open.
    event HostExitRequested(address indexed host, uint64 exitAt);
    /// @dev Emitted after `host` left the platform and its `stake` was credited to its balance.
    event HostStakeReleased(address indexed host, uint256 stake);
    /// @dev Emitted after `host` took offer `nonce`: licensed for [start, end), `fee` paid to the owner.
    event LicenseAccepted(
        uint256 indexed modelId, address indexed host, uint256 nonce, uint64 start, uint64 end, uint256 fee,
        bytes32 assignmentRoot
    );
    /// @dev Emitted after the owner of `modelId` revoked offer `nonce`.
    event OfferRevoked(uint256 indexed modelId, uint256 nonce);
    /// @dev Emitted after the owner cut every licence of `host` for `modelId` at `end`.
    event LicenseTerminated(uint256 indexed modelId, address indexed host, uint64 end);
    /// @dev Emitted after the owner committed to a challenge of `count` keys needing `threshold` matches.
    event ChallengeCommitted(
        uint256 indexed challengeId, uint256 indexed modelId, uint64 count, uint64 threshold, uint64 deadline
    );
    /// @dev Emitted after a reveal counted `matches` against `threshold`: `status` Pending (claim) or Failed.
    event ChallengeRevealed(
        uint256 indexed challengeId, address indexed host, uint64 matches, uint64 threshold, ChallengeStatus status
    );
    /// @dev Emitted after the owner reported a leak of `host`'s assigned fingerprints (claim `challengeId`).
    event LeakReported(
        uint256 indexed challengeId, uint256 indexed modelId, address indexed host, uint64 count, uint64 matches,
        bytes32 evidenceHash
    );
    /// @dev Emitted after the accused host disputed claim `challengeId`; the arbiters vote until the deadline.
    event ClaimDisputed(uint256 indexed challengeId, bytes32 answerHash, uint64 votingDeadline);
    /// @dev Emitted after `arbiter` voted on claim `challengeId`.
    event ClaimVoted(uint256 indexed challengeId, address indexed arbiter, bool uphold);
    /// @dev Emitted after claim `challengeId` closed with `status`, slashing `slashed` wei.
    event ClaimResolved(uint256 indexed challengeId, ChallengeStatus status, uint256 slashed);
    /// @dev Emitted after `amount` of `host`'s stake was slashed to the owner of `modelId`.
    event HostSlashed(uint256 indexed modelId, address indexed host, uint256 amount);
    /// @dev Emitted after `account` withdrew `amount` wei of fees, slashed and released stakes.
    event PaymentWithdrawn(address indexed account, uint256 amount);

    /// @dev The arbiter list or quorum is invalid: need quorum > count / 2 and quorum ≤ count.
    error OMLRegistryInvalidArbiters(uint256 count, uint256 quorum);
    /// @dev A deployment parameter is out of range (see {Config}).
    error OMLRegistryInvalidConfig(uint256 minHostStake, uint64 noticePeriod, uint64 revealWindow);
    /// @dev `owner` already registered `modelHash` as `modelId`.
    error OMLRegistryModelAlreadyRegistered(address owner, bytes32 modelHash, uint256 modelId);
    /// @dev `fingerprintRoot` is zero or `numFingerprints` is 0.
    error OMLRegistryInvalidFingerprintRoot(bytes32 fingerprintRoot, uint64 numFingerprints);
    /// @dev `p0` is not in (0, MAX_P0] or `targetFpr` not in (0, 1e18).
    error OMLRegistryInvalidFalseClaimBound(uint64 p0, uint64 targetFpr);
    /// @dev No model has id `modelId`.
    error OMLRegistryUnknownModel(uint256 modelId);
    /// @dev `account` is not the owner of `modelId`.
    error OMLRegistryUnauthorizedOwner(uint256 modelId, address account);
    /// @dev `host` already joined the platform.
    error OMLRegistryHostAlreadyJoined(address host);
    /// @dev `host` has not joined the platform.
    error OMLRegistryHostNotJoined(address host);
    /// @dev `endpointHash` is zero.
    error OMLRegistryInvalidEndpoint(bytes32 endpointHash);
    /// @dev `host` bonds `stake` wei, below `minimum`.
    error OMLRegistryInsufficientStake(address host, uint256 stake, uint256 minimum);
    /// @dev `host` asked to exit (stake free at `exitAt`): no new licence.
    error OMLRegistryHostExiting(address host, uint64 exitAt);
    /// @dev `host`'s stake is not free yet: exit at `exitAt` (0: not requested), `openClaims` open claims.
    error OMLRegistryStakeLocked(address host, uint64 exitAt, uint64 openClaims);
    /// @dev Offer `nonce` of `modelId` expired at `expiry`.
    error OMLRegistryOfferExpired(uint256 modelId, uint256 nonce, uint64 expiry);
    /// @dev Offer `nonce` of `modelId` was already accepted or revoked.
    error OMLRegistryOfferNonceUsed(uint256 modelId, uint256 nonce);
    /// @dev The offer has a zero term or a zero assignment root.
    error OMLRegistryInvalidOffer(uint64 term, bytes32 assignmentRoot);
    /// @dev The licence offer recovers to `signer`, not the owner `owner`.
    error OMLRegistryInvalidLicenseSigner(uint256 modelId, address signer, address owner);
    /// @dev The host paid `paid` wei for an offer whose fee is `fee`.
    error OMLRegistryWrongLicenseFee(uint256 modelId, uint256 paid, uint256 fee);
    /// @dev `host` holds no licence (at index `licenseIndex`, or none running) for `modelId`.
    error OMLRegistryHostNotLicensed(uint256 modelId, address host, uint256 licenseIndex);
    /// @dev `host` held a licence for `modelId` at some time in [from, to]: its answers then are not slashable.
    error OMLRegistryHostLicensedDuring(uint256 modelId, address host, uint64 from, uint64 to);
    /// @dev `host` is the zero address.
    error OMLRegistryInvalidHost(address host);
    /// @dev A challenge of `count` fingerprints is outside [1, MAX_CHALLENGE_SIZE] or needs `threshold` > count.
    error OMLRegistryInvalidChallengeSize(uint64 count, uint64 threshold);
    /// @dev The model already has the unrevealed challenge `challengeId` (one at a time).
    error OMLRegistryChallengeOpen(uint256 modelId, uint256 challengeId);
    /// @dev Challenge `challengeId` is in state `status`, not in the state the call needs.
    error OMLRegistryInvalidChallengeStatus(uint256 challengeId, ChallengeStatus status);
    /// @dev The reveal carries `fingerprints`, `proofs` and `responses` items; the commit promised `count`.
    error OMLRegistryInvalidRevealLength(uint64 count, uint256 fingerprints, uint256 proofs, uint256 responses);
    /// @dev The reveal hashes to `computed`, not to the committed `commitment`.
    error OMLRegistryCommitmentMismatch(uint256 challengeId, bytes32 commitment, bytes32 computed);
    /// @dev Fingerprint `index` is not below `numFingerprints`.
    error OMLRegistryFingerprintOutOfRange(uint256 index, uint64 numFingerprints);
    /// @dev Item `position` repeats a key or breaks the strictly increasing order of key hashes.
    error OMLRegistryKeysNotStrictlyIncreasing(uint256 position, bytes32 keyHash);
    /// @dev `leaf` (fingerprint `index`) is not in the tree with root `root`.
    error OMLRegistryInvalidProof(uint256 index, bytes32 leaf, bytes32 root);
    /// @dev Fingerprint `index` of `modelId` was already revealed.
    error OMLRegistryFingerprintAlreadySpent(uint256 modelId, uint256 index);
    /// @dev A leak report of `matches` matches needs `threshold` (and at most the number of fingerprints).
    error OMLRegistryBelowThreshold(uint64 matches, uint64 threshold);
    /// @dev `account` is not the host accused by challenge `challengeId`.
    error OMLRegistryNotAccusedHost(uint256 challengeId, address account);
    /// @dev The window of challenge `challengeId` closed at `deadline` (or, for finalizing, is open until then).
    error OMLRegistryWrongTime(uint256 challengeId, uint64 deadline);
    /// @dev `account` is not an arbiter.
    error OMLRegistryNotArbiter(address account);
    /// @dev Arbiter `arbiter` is the owner or the host of challenge `challengeId`, or already voted on it.
    error OMLRegistryArbiterCannotVote(uint256 challengeId, address arbiter);
    /// @dev The repeated-key proof against `challengeId` with the earlier `earlierId` does not hold.
    error OMLRegistryInvalidRepeatProof(uint256 challengeId, uint256 earlierId);
    /// @dev `account` has no balance to withdraw.
    error OMLRegistryNothingToWithdraw(address account);
    /// @dev Sending `amount` wei to `account` failed.
    error OMLRegistryWithdrawFailed(address account, uint256 amount);
}
