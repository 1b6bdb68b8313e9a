// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";

import {IOMLRegistry} from "./IOMLRegistry.sol";

/**
 * @title OMLLicensing
 * @dev Models, platform hosts, licences and payments of the OML registry (design note `docs/contracts.md`).
 *
 * Models are registered per owner (ids bound to the registrant: nobody can squat another owner's model hash).
 * Hosts join once with a stake and leave after a notice period; a licence is a period [start, end) taken from an
 * owner-signed EIP-712 offer with a term, a fee, a nonce (used once, revocable) and an expiry. The licence history
 * is kept so that {OMLRegistry} can check whether a host was licensed at the time it answered.
 */
abstract contract OMLLicensing is IOMLRegistry, EIP712, ReentrancyGuard {
    using BitMaps for BitMaps.BitMap;

    /// @dev EIP-712 type hash of an owner-signed licence offer.
    bytes32 public constant LICENSE_TYPEHASH = keccak256(
        "License(uint256 modelId,address host,bytes32 assignmentRoot,uint64 term,uint64 expiry,uint256 fee,uint256 nonce)"
    );

    /// @dev Largest chance-match bound p₀ (WAD) a model may declare: 1/2 (keys matched more often prove little).
    uint64 public constant MAX_P0 = 0.5e18;

    uint256 private immutable _minHostStake;
    uint64 private immutable _noticePeriod;
    uint64 internal immutable _revealWindow;
    uint64 internal immutable _disputeWindow;
    uint64 internal immutable _votingWindow;

    uint256 private _modelCount;
    mapping(uint256 modelId => Model) internal _models;
    mapping(address owner => mapping(bytes32 modelHash => uint256 modelId)) private _modelIds;
    mapping(address host => Host) internal _hosts;
    mapping(uint256 modelId => mapping(address host => License[])) private _licenses;
    mapping(uint256 modelId => BitMaps.BitMap) private _usedNonces;
    mapping(address account => uint256) internal _balances;

    /// @dev Reverts unless the caller owns `modelId`.
    modifier onlyModelOwner(uint256 modelId) {
        _checkModelOwner(modelId);
        _;
    }

    /// @dev Fixes the deployment parameters; see {Config} for their ranges.
    constructor(Config memory parameters) EIP712("OMLRegistry", "2") {
        if (
            parameters.minHostStake == 0 || parameters.revealWindow == 0 || parameters.disputeWindow == 0
                || parameters.votingWindow == 0 || parameters.noticePeriod <= parameters.revealWindow + parameters.disputeWindow
        ) revert OMLRegistryInvalidConfig(parameters.minHostStake, parameters.noticePeriod, parameters.revealWindow);
        _minHostStake = parameters.minHostStake;
        _noticePeriod = parameters.noticePeriod;
        _revealWindow = parameters.revealWindow;
        _disputeWindow = parameters.disputeWindow;
        _votingWindow = parameters.votingWindow;
    }

    /**
     * @dev Registers a model and commits to its fingerprints. Model ids start at 1.
     * @param modelHash Content hash of the weights; one registration per (caller, hash).
     * @param fingerprintRoot Merkle root over the salted leaves; non-zero.
     * @param numFingerprints Number of leaves, > 0.
     * @param p0 Per-key chance-match bound (WAD) in (0, MAX_P0]; with `targetFpr` it fixes τ(n) for every n.
     * @param targetFpr False-claim probability per challenge (WAD) in (0, 1e18).
     * @param slashCap Most wei one claim can slash.
     * @param metadataURI Off-chain metadata pointer.
     * @return modelId The new model's id.
     */
    function registerModel(
        bytes32 modelHash,
        bytes32 fingerprintRoot,
        uint64 numFingerprints,
        uint64 p0,
        uint64 targetFpr,
        uint256 slashCap,
        string calldata metadataURI
    ) external returns (uint256 modelId) {
        uint256 existing = _modelIds[msg.sender][modelHash];
        if (existing != 0) revert OMLRegistryModelAlreadyRegistered(msg.sender, modelHash, existing);
        if (fingerprintRoot == bytes32(0) || numFingerprints == 0) {
            revert OMLRegistryInvalidFingerprintRoot(fingerprintRoot, numFingerprints);
        }
        if (p0 == 0 || p0 > MAX_P0 || targetFpr == 0 || targetFpr >= 1e18) {
            revert OMLRegistryInvalidFalseClaimBound(p0, targetFpr);
        }
        modelId = ++_modelCount;
        _modelIds[msg.sender][modelHash] = modelId;
        Model storage model = _models[modelId];
        model.owner = msg.sender;
        model.modelHash = modelHash;
        model.fingerprintRoot = fingerprintRoot;
        model.numFingerprints = numFingerprints;
        model.p0 = p0;
        model.targetFpr = targetFpr;
        model.slashCap = slashCap;
        model.metadataURI = metadataURI;
        emit ModelRegistered(
            modelId, msg.sender, modelHash, fingerprintRoot, numFingerprints, p0, targetFpr, slashCap, metadataURI
        );
    }

    /**
     * @dev Joins the platform as a host, bonding `msg.value` ≥ `minHostStake` once for all licences.
     * @param endpointHash keccak256 of the endpoint URL the host serves at; signed into every answer; non-zero.
     */
    function joinPlatform(bytes32 endpointHash) external payable {
        Host storage host = _hosts[msg.sender];
        if (host.endpointHash != bytes32(0)) revert OMLRegistryHostAlreadyJoined(msg.sender);
        if (endpointHash == bytes32(0)) revert OMLRegistryInvalidEndpoint(endpointHash);
        if (msg.value < _minHostStake) revert OMLRegistryInsufficientStake(msg.sender, msg.value, _minHostStake);
        host.stake = msg.value;
        host.endpointHash = endpointHash;
        emit HostJoined(msg.sender, msg.value, endpointHash);
    }

    /// @dev Starts the caller's exit: its stake can be withdrawn `noticePeriod` seconds from now, with no claim open.
    function requestExit() external {
        Host storage host = _checkHost(msg.sender);
        if (host.exitAt != 0) revert OMLRegistryHostExiting(msg.sender, host.exitAt);
        host.exitAt = uint64(block.timestamp) + _noticePeriod;
        emit HostExitRequested(msg.sender, host.exitAt);
    }

    /// @dev Credits the caller's stake to its balance and removes it from the platform (after {requestExit}).
    function releaseStake() external {
        Host storage host = _checkHost(msg.sender);
        if (host.exitAt == 0 || block.timestamp < host.exitAt || host.openClaims != 0) {
            revert OMLRegistryStakeLocked(msg.sender, host.exitAt, host.openClaims);
        }
        uint256 stake = host.stake;
        delete _hosts[msg.sender];
        _balances[msg.sender] += stake;
        emit HostStakeReleased(msg.sender, stake);
    }

    /**
     * @dev Takes a licence from an owner-signed offer, paying exactly its fee. The period starts now, or when the
     * caller's latest licence for the model ends if that is later (renewal).
     * @param offer The offer; `offer.host` is the caller.
     * @param signature The owner's EIP-712 `License` signature (65 bytes; OpenZeppelin `ECDSA.recover` refuses
     * malformed and high-s signatures).
     */
    function acceptLicense(LicenseOffer calldata offer, bytes calldata signature) external payable {
        uint256 modelId = offer.modelId;
        _checkModel(modelId);
        Host storage host = _checkHost(msg.sender);
        if (host.exitAt != 0) revert OMLRegistryHostExiting(msg.sender, host.exitAt);
        if (host.stake < _minHostStake) revert OMLRegistryInsufficientStake(msg.sender, host.stake, _minHostStake);
        if (block.timestamp > offer.expiry) revert OMLRegistryOfferExpired(modelId, offer.nonce, offer.expiry);
        if (_usedNonces[modelId].get(offer.nonce)) revert OMLRegistryOfferNonceUsed(modelId, offer.nonce);
        if (offer.term == 0 || offer.assignmentRoot == bytes32(0)) {
            revert OMLRegistryInvalidOffer(offer.term, offer.assignmentRoot);
        }
        if (msg.value != offer.fee) revert OMLRegistryWrongLicenseFee(modelId, msg.value, offer.fee);
        address owner = _models[modelId].owner;
        address signer = ECDSA.recover(licenseDigest(offer, msg.sender), signature);
        if (signer != owner) revert OMLRegistryInvalidLicenseSigner(modelId, signer, owner);

        _usedNonces[modelId].set(offer.nonce);
        License[] storage history = _licenses[modelId][msg.sender];
        uint64 start = uint64(block.timestamp);
        if (history.length != 0 && history[history.length - 1].end > start) start = history[history.length - 1].end;
        uint64 end = start + offer.term;
        history.push(License(start, end, offer.nonce, offer.assignmentRoot));
        _balances[owner] += msg.value;
        emit LicenseAccepted(modelId, msg.sender, offer.nonce, start, end, msg.value, offer.assignmentRoot);
    }

    /// @dev Revokes the unused offer `nonce` of `modelId`. Owner only.
    function revokeOffer(uint256 modelId, uint256 nonce) external onlyModelOwner(modelId) {
        if (_usedNonces[modelId].get(nonce)) revert OMLRegistryOfferNonceUsed(modelId, nonce);
        _usedNonces[modelId].set(nonce);
        emit OfferRevoked(modelId, nonce);
    }

    /**
     * @dev Ends `host`'s licences for `modelId` after the notice period: every period is cut at now + noticePeriod
     * (the host keeps serving legally until then; the fee is not refunded). Owner only.
     */
    function terminateLicense(uint256 modelId, address host) external onlyModelOwner(modelId) {
        License[] storage history = _licenses[modelId][host];
        uint64 cutoff = uint64(block.timestamp) + _noticePeriod;
        bool cut;
        for (uint256 i = 0; i < history.length; ++i) {
            License storage license = history[i];
            if (license.end > cutoff) {
                license.end = license.start > cutoff ? license.start : cutoff;
                cut = true;
            }
        }
        if (!cut) revert OMLRegistryHostNotLicensed(modelId, host, history.length);
        emit LicenseTerminated(modelId, host, cutoff);
    }

    /// @dev Sends the caller its whole balance of fees, slashed stakes and released stakes.
    function withdraw() external nonReentrant {
        uint256 amount = _balances[msg.sender];
        if (amount == 0) revert OMLRegistryNothingToWithdraw(msg.sender);
        _balances[msg.sender] = 0;
        emit PaymentWithdrawn(msg.sender, amount);
        (bool ok, ) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert OMLRegistryWithdrawFailed(msg.sender, amount);
    }

    /// @dev Returns the deployment parameters.
    function config() external view returns (Config memory) {
        return Config(_minHostStake, _noticePeriod, _revealWindow, _disputeWindow, _votingWindow);
    }

    /// @dev Returns model `modelId`.
    function getModel(uint256 modelId) external view returns (Model memory) {
        _checkModel(modelId);
        return _models[modelId];
    }

    /// @dev Returns the id `owner` registered `modelHash` under, or 0.
    function modelIdOf(address owner, bytes32 modelHash) external view returns (uint256) {
        return _modelIds[owner][modelHash];
    }

    /// @dev Returns the number of registered models (the largest model id).
    function modelCount() external view returns (uint256) {
        return _modelCount;
    }

    /// @dev Returns platform host `host` (all zero if it never joined).
    function getHost(address host) external view returns (Host memory) {
        return _hosts[host];
    }

    /// @dev Returns `host`'s licence history for `modelId`, oldest first.
    function getLicenses(uint256 modelId, address host) external view returns (License[] memory) {
        return _licenses[modelId][host];
    }

    /// @dev Returns whether `host` held a licence for `modelId` at any time in [from, to].
    function licensedDuring(uint256 modelId, address host, uint64 from, uint64 to) public view returns (bool) {
        License[] storage history = _licenses[modelId][host];
        for (uint256 i = 0; i < history.length; ++i) {
            if (history[i].start <= to && history[i].end > from) return true;
        }
        return false;
    }

    /// @dev Returns whether offer `nonce` of `modelId` was accepted or revoked.
    function isNonceUsed(uint256 modelId, uint256 nonce) external view returns (bool) {
        return _usedNonces[modelId].get(nonce);
    }

    /// @dev Returns the wei `account` can withdraw.
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @dev Returns the EIP-712 digest an owner signs to offer `host` a licence.
    function licenseDigest(LicenseOffer calldata offer, address host) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    LICENSE_TYPEHASH, offer.modelId, host, offer.assignmentRoot, offer.term, offer.expiry, offer.fee,
                    offer.nonce
                )
            )
        );
    }

    /// @dev Returns `host`'s licence number `index` for `modelId`, or reverts with {OMLRegistryHostNotLicensed}.
    function _license(uint256 modelId, address host, uint256 index) internal view returns (License storage) {
        License[] storage history = _licenses[modelId][host];
        if (index >= history.length) revert OMLRegistryHostNotLicensed(modelId, host, index);
        return history[index];
    }

    /// @dev Returns the platform record of `host`, or reverts with {OMLRegistryHostNotJoined}.
    function _checkHost(address host) internal view returns (Host storage record) {
        record = _hosts[host];
        if (record.endpointHash == bytes32(0)) revert OMLRegistryHostNotJoined(host);
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
