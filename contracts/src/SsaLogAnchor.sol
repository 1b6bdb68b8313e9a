// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The Loyal Authors.
pragma solidity 0.8.28;

/// @title SsaLogAnchor
/// @notice The log authority of SSA jobs (issue 14, deliverable 2): one append-only sequence of log
/// heads per job genesis, written only by the server that registered the job. A committee member checks
/// the head of every release request against the head anchored here for that round, so a server that
/// rewrites history or shows two members two versions of a round is caught before any partial leaves
/// a member: each round has exactly one anchored head, and the hash chain ties every earlier round to it.
contract SsaLogAnchor {
    struct Log {
        address server;
        uint64 rounds;
        bytes32 head;
    }

    /// @notice genesis => the job's log.
    mapping(bytes32 => Log) public logs;
    /// @notice genesis => round => entry hash of that round.
    mapping(bytes32 => mapping(uint64 => bytes32)) private _heads;

    event JobRegistered(bytes32 indexed genesis, address indexed server);
    event HeadAnchored(bytes32 indexed genesis, uint64 indexed round, bytes32 entryHash, uint32 clients, uint32 noiseShares);

    error JobAlreadyRegistered(bytes32 genesis);
    error NotTheJobServer(bytes32 genesis, address caller);
    error WrongRound(uint64 expected, uint64 got);
    error EmptyHead();
    error UnknownRound(bytes32 genesis, uint64 round);

    /// @notice Binds `genesis` to the caller. Register before publishing the genesis: it is a hash of
    /// the job's pinned configuration, including its random job id, so nobody can squat it earlier.
    function register(bytes32 genesis) external {
        if (logs[genesis].server != address(0)) revert JobAlreadyRegistered(genesis);
        logs[genesis].server = msg.sender;
        emit JobRegistered(genesis, msg.sender);
    }

    /// @notice Appends the head of round `round` (rounds are anchored in order, each exactly once).
    function anchor(bytes32 genesis, uint64 round, bytes32 entryHash, uint32 clients, uint32 noiseShares) external {
        Log storage log = logs[genesis];
        if (log.server != msg.sender) revert NotTheJobServer(genesis, msg.sender);
        if (round != log.rounds) revert WrongRound(log.rounds, round);
        if (entryHash == bytes32(0)) revert EmptyHead();
        _heads[genesis][round] = entryHash;
        log.rounds = round + 1;
        log.head = entryHash;
        emit HeadAnchored(genesis, round, entryHash, clients, noiseShares);
    }

    /// @notice The anchored entry hash of `round` (reverts if that round is not anchored).
    function headAt(bytes32 genesis, uint64 round) external view returns (bytes32) {
        if (round >= logs[genesis].rounds) revert UnknownRound(genesis, round);
        return _heads[genesis][round];
    }
}
