// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";

import {IOMLRegistry} from "./IOMLRegistry.sol";

/**
 * @title OMLRegistry
 * @dev On-chain registry of OML-fingerprinted models (OML, arXiv 2411.03887 §4; design note `oml.md`, registry).
 *
 * Flow: an owner registers a model with a Merkle commitment to its fingerprints; hosts take licences by bonding a
 * stake (the owner signs the host's fingerprint assignment, EIP-712 `License`); licensed hosts sign every response
 * they serve (EIP-712 `Response`). An owner who holds host-signed responses to fingerprint keys reveals those
 * fingerprints in {challenge}: each one is checked against the commitment, its response signature is recovered,
 * and it is marked spent. If at least `threshold` signed outputs equal the committed responses, the claim is
 * recorded and a licensed host's stake is slashed to the owner. Payments are pull-based ({withdraw}).
 *
 * Every loop runs over calldata; storage is only touched per revealed fingerprint.
 */
contract OMLRegistry is IOMLRegistry, EIP712, ReentrancyGuard {
    using BitMaps for BitMaps.BitMap;

    /// @dev EIP-712 type hash of a host-signed response.
    bytes32 public constant RESPONSE_TYPEHASH =
        keccak256("Response(uint256 modelId,bytes32 promptHash,bytes32 outputHash)");

    /// @dev EIP-712 type hash of an owner-signed licence offer.
    bytes32 public constant LICENSE_TYPEHASH =
        keccak256("License(uint256 modelId,address host,bytes32 assignmentRoot)");

    uint256 private _modelCount;
    uint256 private _claimCount;
    mapping(uint256 modelId => Model) private _models;
    mapping(bytes32 modelHash => uint256 modelId) private _modelIds;
    mapping(uint256 modelId => mapping(address host => License)) private _licenses;
    mapping(uint256 modelId => BitMaps.BitMap) private _spent;
    mapping(uint256 claimId => Claim) private _claims;
    mapping(address account => uint256) private _balances;

    /// @dev Reverts unless `modelId` exists.
    modifier onlyExistingModel(uint256 modelId) {
        _checkModel(modelId);
        _;
    }

    /// @dev Reverts unless the caller owns `modelId`.
    modifier onlyModelOwner(uint256 modelId) {
        _checkModelOwner(modelId);
        _;
    }

    constructor() EIP712("OMLRegistry", "1") {}

    /**
     * @dev Registers a model and commits to its fingerprints. Model ids start at 1.
     * @param modelHash Content hash of the weights; one registration per hash.
     * @param fingerprintRoot Merkle root over the salted leaves (see {IOMLRegistry}); must be non-zero.
     * @param numFingerprints Number of leaves.
     * @param threshold Matches a challenge needs, in [1, numFingerprints].
     * @param licenseFee Wei each host pays the owner when it takes a licence (may be 0).
     * @param metadataURI Off-chain metadata pointer.
     * @return modelId The new model's id.
     */
    function registerModel(
        bytes32 modelHash,
        bytes32 fingerprintRoot,
        uint64 numFingerprints,
        uint64 threshold,
        uint256 licenseFee,
        string calldata metadataURI
    ) external returns (uint256 modelId) {
        uint256 existing = _modelIds[modelHash];
        if (existing != 0) revert OMLRegistryModelAlreadyRegistered(modelHash, existing);
        if (fingerprintRoot == bytes32(0)) revert OMLRegistryInvalidFingerprintRoot(fingerprintRoot);
        if (threshold == 0 || threshold > numFingerprints) revert OMLRegistryInvalidThreshold(threshold, numFingerprints);

        modelId = ++_modelCount;
        _modelIds[modelHash] = modelId;
        Model storage model = _models[modelId];
        model.owner = msg.sender;
        model.modelHash = modelHash;
        model.fingerprintRoot = fingerprintRoot;
        model.numFingerprints = numFingerprints;
        model.threshold = threshold;
        model.licenseFee = licenseFee;
        model.metadataURI = metadataURI;
        emit ModelRegistered(
            modelId, msg.sender, modelHash, fingerprintRoot, numFingerprints, threshold, licenseFee, metadataURI
        );
    }

    /**
     * @dev Licenses the caller as a host of `modelId`. The payment is the model's licence fee (credited to the
     * owner) plus a non-zero stake (bonded until slashed or terminated).
     * @param modelId The model.
     * @param assignmentRoot Merkle root over the fingerprints embedded in this host's copy (same leaf encoding).
     * @param ownerSignature The owner's EIP-712 signature over `License(modelId, msg.sender, assignmentRoot)`.
     */
    function licenseHost(uint256 modelId, bytes32 assignmentRoot, bytes calldata ownerSignature)
        external
        payable
        onlyExistingModel(modelId)
    {
        Model storage model = _models[modelId];
        License storage license = _licenses[modelId][msg.sender];
        if (license.active) revert OMLRegistryHostAlreadyLicensed(modelId, msg.sender);
        if (assignmentRoot == bytes32(0)) revert OMLRegistryInvalidAssignmentRoot(assignmentRoot);
        uint256 fee = model.licenseFee;
        if (msg.value <= fee) revert OMLRegistryZeroStake(modelId, msg.value, fee);
        address signer = _recover(licenseDigest(modelId, msg.sender, assignmentRoot), ownerSignature);
        if (signer != model.owner) revert OMLRegistryInvalidLicenseSigner(modelId, signer, model.owner);

        uint256 stake;
        unchecked {
            // msg.value > fee was checked above.
            stake = msg.value - fee;
        }
        license.assignmentRoot = assignmentRoot;
        license.stake = stake;
        license.active = true;
        _balances[model.owner] += fee;
        emit HostLicensed(modelId, msg.sender, assignmentRoot, stake, fee);
    }

    /**
     * @dev Ends `host`'s licence and credits its stake back to it (withdraw with {withdraw}). Owner only.
     * @param modelId The model.
     * @param host The licensed host.
     */
    function terminateLicense(uint256 modelId, address host) external onlyModelOwner(modelId) {
        License storage license = _licenses[modelId][host];
        if (!license.active) revert OMLRegistryHostNotLicensed(modelId, host);
        uint256 stake = license.stake;
        license.active = false;
        license.stake = 0;
        _balances[host] += stake;
        emit LicenseTerminated(modelId, host, stake);
    }

    /**
     * @dev Proves that `host` serves model `modelId`. Owner only.
     *
     * For each item i: the leaf `keccak256(abi.encode(index, salt, keyHash, responseHash))` must be proven against
     * the host's assignment root if the host is licensed, else against the model's fingerprint root; the
     * fingerprint must be unspent (it is spent from now on); the response signature must recover to `host` over
     * `Response(modelId, keyHash, outputHash)`. The item matches when `outputHash == responseHash`. With at least
     * `threshold` matches the claim is stored with `evidenceRoot = h_n`, `h_0 = 0`,
     * `h_i = keccak256(abi.encode(h_{i-1}, leaf_i, outputHash_i))`, and a licensed host's whole stake is credited to
     * the owner (pull payment). Otherwise the call reverts and nothing is spent.
     *
     * @param modelId The model.
     * @param host The accused host.
     * @param fingerprints The revealed leaf preimages.
     * @param proofs One Merkle proof (sibling hashes, leaf to root) per fingerprint.
     * @param responses The host's signed response per fingerprint.
     * @return claimId Id of the stored claim (starting at 1).
     */
    function challenge(
        uint256 modelId,
        address host,
        Fingerprint[] calldata fingerprints,
        bytes32[][] calldata proofs,
        SignedResponse[] calldata responses
    ) external nonReentrant onlyModelOwner(modelId) returns (uint256 claimId) {
        uint256 count = fingerprints.length;
        if (count == 0 || proofs.length != count || responses.length != count) {
            revert OMLRegistryInvalidChallengeLength(count, proofs.length, responses.length);
        }
        Model storage model = _models[modelId];
        License storage license = _licenses[modelId][host];
        bytes32 root = license.active ? license.assignmentRoot : model.fingerprintRoot;

        bytes32 evidenceRoot;
        uint64 matches;
        for (uint256 i = 0; i < count; ++i) {
            (bytes32 leaf, bool matched) = _checkItem(modelId, host, root, fingerprints[i], proofs[i], responses[i]);
            evidenceRoot = keccak256(abi.encode(evidenceRoot, leaf, responses[i].outputHash));
            if (matched) {
                unchecked {
                    // matches <= count, and count is bounded by calldata size, far below 2**64.
                    ++matches;
                }
            }
        }
        if (matches < model.threshold) revert OMLRegistryBelowThreshold(matches, model.threshold);

        uint256 slashed;
        if (license.active) {
            slashed = license.stake;
            license.stake = 0;
            license.active = false;
            _balances[model.owner] += slashed;
        }
        unchecked {
            // count < 2**64 (calldata bound) and spentFingerprints <= numFingerprints < 2**64.
            model.spentFingerprints += uint64(count);
        }
        claimId = ++_claimCount;
        _claims[claimId] = Claim(modelId, host, evidenceRoot, matches, uint64(count), slashed);
        emit OwnershipClaimed(claimId, modelId, host, evidenceRoot, matches, uint64(count));
        if (slashed != 0) emit HostSlashed(modelId, host, slashed);
    }

    /**
     * @dev Sends the caller its whole balance of fees, slashed stakes and released stakes.
     */
    function withdraw() external nonReentrant {
        uint256 amount = _balances[msg.sender];
        if (amount == 0) revert OMLRegistryNothingToWithdraw(msg.sender);
        _balances[msg.sender] = 0;
        emit PaymentWithdrawn(msg.sender, amount);
        (bool ok, ) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert OMLRegistryWithdrawFailed(msg.sender, amount);
    }

    /// @dev Returns model `modelId`.
    function getModel(uint256 modelId) external view onlyExistingModel(modelId) returns (Model memory) {
        return _models[modelId];
    }

    /// @dev Returns the id of the model registered with `modelHash`, or 0.
    function modelIdOf(bytes32 modelHash) external view returns (uint256) {
        return _modelIds[modelHash];
    }

    /// @dev Returns the number of registered models (the largest model id).
    function modelCount() external view returns (uint256) {
        return _modelCount;
    }

    /// @dev Returns `host`'s licence for `modelId` (all zero if it never held one).
    function getLicense(uint256 modelId, address host) external view returns (License memory) {
        return _licenses[modelId][host];
    }

    /// @dev Returns whether fingerprint `index` of `modelId` has been revealed.
    function isSpent(uint256 modelId, uint256 index) external view returns (bool) {
        return _spent[modelId].get(index);
    }

    /// @dev Returns claim `claimId` (all zero if it does not exist).
    function getClaim(uint256 claimId) external view returns (Claim memory) {
        return _claims[claimId];
    }

    /// @dev Returns the number of stored claims (the largest claim id).
    function claimCount() external view returns (uint256) {
        return _claimCount;
    }

    /// @dev Returns the wei `account` can withdraw.
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @dev Returns the Merkle leaf of `fingerprint`: `keccak256(abi.encode(index, salt, keyHash, responseHash))`.
    function leafHash(Fingerprint calldata fingerprint) public pure returns (bytes32) {
        return keccak256(abi.encode(fingerprint.index, fingerprint.salt, fingerprint.keyHash, fingerprint.responseHash));
    }

    /// @dev Returns whether `fingerprint` is a leaf of the sorted-pair Merkle tree with root `root`.
    function verifyFingerprint(bytes32 root, Fingerprint calldata fingerprint, bytes32[] calldata proof)
        external
        pure
        returns (bool)
    {
        return MerkleProof.verifyCalldata(proof, root, leafHash(fingerprint));
    }

    /// @dev Returns the EIP-712 digest a host signs for a response.
    function responseDigest(uint256 modelId, bytes32 promptHash, bytes32 outputHash) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(RESPONSE_TYPEHASH, modelId, promptHash, outputHash)));
    }

    /// @dev Returns the EIP-712 digest an owner signs to offer `host` a licence.
    function licenseDigest(uint256 modelId, address host, bytes32 assignmentRoot) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(LICENSE_TYPEHASH, modelId, host, assignmentRoot)));
    }

    /// @dev Checks one challenge item and marks its fingerprint spent; returns its leaf and whether it matched.
    function _checkItem(
        uint256 modelId,
        address host,
        bytes32 root,
        Fingerprint calldata fingerprint,
        bytes32[] calldata proof,
        SignedResponse calldata response
    ) private returns (bytes32 leaf, bool matched) {
        uint256 index = fingerprint.index;
        uint64 numFingerprints = _models[modelId].numFingerprints;
        if (index >= numFingerprints) revert OMLRegistryFingerprintOutOfRange(index, numFingerprints);
        leaf = leafHash(fingerprint);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert OMLRegistryInvalidProof(index, leaf, root);
        if (_spent[modelId].get(index)) revert OMLRegistryFingerprintAlreadySpent(modelId, index);
        address signer = _recover(responseDigest(modelId, fingerprint.keyHash, response.outputHash), response.signature);
        if (signer != host) revert OMLRegistryInvalidResponseSigner(index, signer, host);
        _spent[modelId].set(index);
        emit FingerprintSpent(modelId, index);
        matched = response.outputHash == fingerprint.responseHash;
    }

    /// @dev Recovers the signer of `digest`, or address(0) for a malformed signature.
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address signer) {
        (signer, , ) = ECDSA.tryRecover(digest, signature);
    }

    /// @dev Reverts with {OMLRegistryUnknownModel} unless `modelId` exists.
    function _checkModel(uint256 modelId) internal view {
        if (modelId == 0 || modelId > _modelCount) revert OMLRegistryUnknownModel(modelId);
    }

    /// @dev Reverts unless `modelId` exists and the caller owns it.
    function _checkModelOwner(uint256 modelId) internal view {
        _checkModel(modelId);
        if (_models[modelId].owner != msg.sender) revert OMLRegistryUnauthorizedOwner(modelId, msg.sender);
    }
}
