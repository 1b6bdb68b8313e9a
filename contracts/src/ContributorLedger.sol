// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @dev The part of {SsaLogAnchor} this contract reads: who serves a job and how many rounds it anchored.
interface ISsaLogAnchor {
    function logs(bytes32 genesis) external view returns (address server, uint64 rounds, bytes32 head);
}

/**
 * @title ContributorLedger
 * @dev Community ownership of an SSA job's model (Loyal AI, arXiv 2502.15720: community-owned models "share the economic
 * rewards communally"; contributor motivation, arXiv 2502.07732): the job's server commits, once, a Merkle root over its contributors — who took part in how
 * many rounds, never what they sent — and licence fees deposited for the job are split pro rata to those round
 * counts. Contributors pull their share with a Merkle proof (pull payments).
 *
 * A leaf is OpenZeppelin's `StandardMerkleTree` leaf of `(bytes32 contributor, address payee, uint64 rounds)`:
 * `keccak256(bytes.concat(keccak256(abi.encode(contributor, payee, rounds))))`, where `contributor` is the SHA-256
 * of the contributor's enrolled Ed25519 key and `payee` the address it signed up for payment
 * (`loyal.protocols.governance.ledger`). Only the payee can claim, so a leaked proof pays nobody else.
 *
 * Split: after total deposits D, contributor i with weight w_i (rounds) of total W is entitled to
 * floor(D * w_i / W) and may withdraw that minus what it already withdrew. The sum of entitlements never exceeds
 * D (sum of floors <= floor of sum); the remainder (< number of contributors, in wei) is not lost: it is part of
 * D and becomes claimable as later deposits lift the floors. A ledger never pays out more than was deposited for
 * it, even under a wrong `totalWeight`, so jobs cannot drain each other.
 *
 * Attribution, the non-monetary signal, sits beside the money: the first proof of a leaf (by {claim} or by
 * anyone through {attest}) records the contributor's round count on chain ({attribution}).
 */
contract ContributorLedger is ReentrancyGuard {
    /// @dev A committed ledger and its money (wei).
    struct Ledger {
        bytes32 root;
        uint64 totalWeight;
        uint32 contributors;
        uint64 rounds;
        uint256 deposited;
        uint256 paid;
    }

    /// @dev The log authority whose job servers may commit ledgers.
    ISsaLogAnchor public immutable anchor;

    mapping(bytes32 genesis => Ledger) private _ledgers;
    mapping(bytes32 genesis => mapping(bytes32 contributor => uint256)) private _claimed;
    mapping(bytes32 genesis => mapping(bytes32 contributor => uint64)) private _attribution;

    /// @dev The server of job `genesis` committed its contributor ledger over its first `rounds` rounds.
    event LedgerCommitted(bytes32 indexed genesis, bytes32 root, uint64 totalWeight, uint32 contributors, uint64 rounds);
    /// @dev `from` deposited `amount` wei of licence fees for job `genesis` (`totalDeposited` so far).
    event FeesDeposited(bytes32 indexed genesis, address indexed from, uint256 amount, uint256 totalDeposited);
    /// @dev A proof showed `contributor` (paid to `payee`) took part in `rounds` rounds of job `genesis`.
    event AttributionRecorded(bytes32 indexed genesis, bytes32 indexed contributor, address payee, uint64 rounds);
    /// @dev `payee` withdrew `amount` wei of `contributor`'s share of job `genesis`.
    event Claimed(bytes32 indexed genesis, bytes32 indexed contributor, address indexed payee, uint256 amount);

    /// @dev `caller` is not the server that registered job `genesis` in the log authority.
    error ContributorLedgerNotTheJobServer(bytes32 genesis, address caller);
    /// @dev Job `genesis` already has a committed ledger (a ledger is written once).
    error ContributorLedgerAlreadyCommitted(bytes32 genesis);
    /// @dev A ledger needs a non-zero root, a positive total weight and at least one contributor.
    error ContributorLedgerInvalidCommitment(bytes32 root, uint64 totalWeight, uint32 contributors);
    /// @dev The ledger covers `rounds` rounds, but only `anchored` rounds of the job are anchored.
    error ContributorLedgerRoundsNotAnchored(bytes32 genesis, uint64 rounds, uint64 anchored);
    /// @dev Job `genesis` has no committed ledger.
    error ContributorLedgerUnknownLedger(bytes32 genesis);
    /// @dev A deposit of zero wei.
    error ContributorLedgerZeroDeposit(bytes32 genesis);
    /// @dev The leaf `(contributor, payee, rounds)` is not in the ledger of `genesis`.
    error ContributorLedgerInvalidProof(bytes32 genesis, bytes32 contributor, address payee, uint64 rounds);
    /// @dev `contributor` has no new share of job `genesis` to withdraw.
    error ContributorLedgerNothingToClaim(bytes32 genesis, bytes32 contributor);
    /// @dev Paying `owed` would exceed the `available` wei deposited and not yet paid for `genesis`.
    error ContributorLedgerInsufficientFunds(bytes32 genesis, uint256 owed, uint256 available);
    /// @dev Sending `amount` wei to `payee` failed.
    error ContributorLedgerTransferFailed(address payee, uint256 amount);

    /// @param anchor_ the {SsaLogAnchor} that names each job's server.
    constructor(ISsaLogAnchor anchor_) {
        anchor = anchor_;
    }

    /// @dev Commits the contributor ledger of job `genesis` (its server only, once).
    /// @param genesis the job's genesis, as registered in {anchor}.
    /// @param root the Merkle root of the leaves (see the contract doc).
    /// @param totalWeight the sum of the leaves' round counts.
    /// @param contributors the number of leaves.
    /// @param rounds the rounds the ledger covers; all must be anchored.
    function commitLedger(bytes32 genesis, bytes32 root, uint64 totalWeight, uint32 contributors, uint64 rounds)
        external
    {
        (address server, uint64 anchored, ) = anchor.logs(genesis);
        if (server != msg.sender) revert ContributorLedgerNotTheJobServer(genesis, msg.sender);
        if (_ledgers[genesis].root != bytes32(0)) revert ContributorLedgerAlreadyCommitted(genesis);
        if (root == bytes32(0) || totalWeight == 0 || contributors == 0) {
            revert ContributorLedgerInvalidCommitment(root, totalWeight, contributors);
        }
        if (rounds == 0 || rounds > anchored) revert ContributorLedgerRoundsNotAnchored(genesis, rounds, anchored);
        _ledgers[genesis] = Ledger(root, totalWeight, contributors, rounds, 0, 0);
        emit LedgerCommitted(genesis, root, totalWeight, contributors, rounds);
    }

    /// @dev Deposits the sent wei (e.g. licence fees the model owner withdrew from the OML registry) for job `genesis`.
    function deposit(bytes32 genesis) external payable {
        Ledger storage ledger = _checkLedger(genesis);
        if (msg.value == 0) revert ContributorLedgerZeroDeposit(genesis);
        ledger.deposited += msg.value;
        emit FeesDeposited(genesis, msg.sender, msg.value, ledger.deposited);
    }

    /// @dev Proves the caller's leaf and sends it everything its share has accrued since its last claim.
    /// @param genesis the job.
    /// @param contributor the contributor id of the leaf (whose payee must be the caller).
    /// @param rounds the leaf's round count.
    /// @param proof the Merkle siblings from the leaf to the root.
    /// @return amount the wei sent.
    function claim(bytes32 genesis, bytes32 contributor, uint64 rounds, bytes32[] calldata proof)
        external
        nonReentrant
        returns (uint256 amount)
    {
        Ledger storage ledger = _checkLedger(genesis);
        _attest(genesis, ledger.root, contributor, msg.sender, rounds, proof);
        amount = _entitlement(ledger, rounds) - _claimed[genesis][contributor];
        if (amount == 0) revert ContributorLedgerNothingToClaim(genesis, contributor);
        if (amount > ledger.deposited - ledger.paid) {
            revert ContributorLedgerInsufficientFunds(genesis, amount, ledger.deposited - ledger.paid);
        }
        _claimed[genesis][contributor] += amount;
        ledger.paid += amount;
        emit Claimed(genesis, contributor, msg.sender, amount);
        (bool ok, ) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert ContributorLedgerTransferFailed(msg.sender, amount);
    }

    /// @dev Records `contributor`'s attribution from its leaf without paying anything (anyone may call).
    function attest(bytes32 genesis, bytes32 contributor, address payee, uint64 rounds, bytes32[] calldata proof)
        external
    {
        _attest(genesis, _checkLedger(genesis).root, contributor, payee, rounds, proof);
    }

    /// @dev Returns the ledger of job `genesis` (all zero if none is committed).
    function ledgerOf(bytes32 genesis) external view returns (Ledger memory) {
        return _ledgers[genesis];
    }

    /// @dev Returns the rounds a proof showed `contributor` took part in (0 until one is shown).
    function attribution(bytes32 genesis, bytes32 contributor) external view returns (uint64) {
        return _attribution[genesis][contributor];
    }

    /// @dev Returns the wei `contributor` has withdrawn from job `genesis`.
    function claimed(bytes32 genesis, bytes32 contributor) external view returns (uint256) {
        return _claimed[genesis][contributor];
    }

    /// @dev Returns the wei a leaf of `rounds` rounds could withdraw now (leaf not checked).
    function claimable(bytes32 genesis, bytes32 contributor, uint64 rounds) external view returns (uint256) {
        Ledger storage ledger = _checkLedger(genesis);
        return _entitlement(ledger, rounds) - _claimed[genesis][contributor];
    }

    /// @dev Returns the leaf hash of `(contributor, payee, rounds)`.
    function leafHash(bytes32 contributor, address payee, uint64 rounds) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(contributor, payee, rounds))));
    }

    function _checkLedger(bytes32 genesis) internal view returns (Ledger storage ledger) {
        ledger = _ledgers[genesis];
        if (ledger.root == bytes32(0)) revert ContributorLedgerUnknownLedger(genesis);
    }

    /// @dev floor(deposited * rounds / totalWeight): cumulative, so it never decreases as deposits grow.
    function _entitlement(Ledger storage ledger, uint64 rounds) internal view returns (uint256) {
        return Math.mulDiv(ledger.deposited, rounds, ledger.totalWeight);
    }

    function _attest(
        bytes32 genesis,
        bytes32 root,
        bytes32 contributor,
        address payee,
        uint64 rounds,
        bytes32[] calldata proof
    ) internal {
        if (!MerkleProof.verifyCalldata(proof, root, leafHash(contributor, payee, rounds))) {
            revert ContributorLedgerInvalidProof(genesis, contributor, payee, rounds);
        }
        if (_attribution[genesis][contributor] == 0) {
            _attribution[genesis][contributor] = rounds;
            emit AttributionRecorded(genesis, contributor, payee, rounds);
        }
    }
}
