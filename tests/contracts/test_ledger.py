# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""ContributorLedger through `loyal.contracts.ledger`, on the embedded chain and on a hardhat node: the commitment,
deposits, pull payments and attribution, every revert with its exact custom error and arguments, the split of odd
deposits among many contributors against the exact rational shares, and a payee contract whose receive() re-enters
`claim` (`ATTACKER_BYTECODE` is solcjs 0.8.28's output for `ATTACKER_SOURCE` with contracts/compile.js's settings and
the metadata hash off; the attack test asserts its behaviour, so a wrong bytecode fails it)."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from fractions import Fraction

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector

from loyal.contracts.anchor import AnchorClient
from loyal.contracts.chain import Chain, insecure_dev_account, open_chain
from loyal.contracts.errors import RegistryRevert, decode_revert, revert_data_of
from loyal.contracts.ledger import LedgerClient, LedgerCommitment, leaf_hash
from loyal.protocols.governance.ledger import ContributorEntry, ContributorLedger

ROLES = ("ledger-server", "ledger-funder", "ledger-stranger", *(f"ledger-payee-{i}" for i in range(8)))
_CHAINS: dict[str, tuple[Chain, AnchorClient, LedgerClient]] = {}
_COUNTER = itertools.count()


@dataclass
class Env:
    """One anchor and ledger per chain; a fresh job with round 0 anchored by `server` per test."""

    chain: Chain
    anchor: AnchorClient
    ledger: LedgerClient
    server: LocalAccount
    funder: LocalAccount
    stranger: LocalAccount
    payees: tuple[LocalAccount, ...]
    genesis: bytes


@pytest.fixture(params=["embedded", pytest.param("hardhat", marks=pytest.mark.hardhat)])
def env(request) -> Env:
    if request.param not in _CHAINS:
        url = request.getfixturevalue("hardhat_url") if request.param == "hardhat" else None
        chain = open_chain(url, state_path=None)
        for role in ROLES:
            chain.ensure_funded(insecure_dev_account(role).address, 10 * 10**18)
        server = insecure_dev_account("ledger-server")
        anchor = AnchorClient.deploy(chain, server)
        _CHAINS[request.param] = chain, anchor, LedgerClient.deploy(chain, server, anchor.address)
    chain, anchor, ledger = _CHAINS[request.param]
    server = insecure_dev_account("ledger-server")
    genesis = hashlib.sha256(b"ledger-test-job-%d" % next(_COUNTER)).digest()  # a fresh job per test
    anchor.anchor(genesis, 0, hashlib.sha256(genesis).digest(), 2, 1)
    return Env(chain, anchor, ledger, server, insecure_dev_account("ledger-funder"),
               insecure_dev_account("ledger-stranger"), tuple(insecure_dev_account(r) for r in ROLES[3:]), genesis)


def _ledger(env: Env, weights: tuple[int, ...], rounds: int = 1) -> ContributorLedger:
    """Contributor i with weight w_i paid to payee i (the contract sees round counts only, not which rounds)."""
    entries = tuple(ContributorEntry(hashlib.sha256(b"contributor-%d" % i).digest(), tuple(range(w)),
                                     bytes.fromhex(env.payees[i].address[2:])) for i, w in enumerate(weights))
    return ContributorLedger(rounds, entries)


@pytest.fixture
def committed(env):
    """Three contributors of weights 2, 1, 1 (payees 0, 1, 2), committed."""
    commitment = LedgerCommitment.of(_ledger(env, (2, 1, 1)))
    tx = env.ledger.commit(env.server, env.genesis, commitment)
    return env, commitment, tx


def test_commit_emits_event_and_stores_the_ledger(committed):
    env, commitment, tx = committed
    (event,) = tx.named("LedgerCommitted")
    assert event.args == {"genesis": env.genesis, "root": commitment.root, "totalWeight": 4, "contributors": 3,
                          "rounds": 1}
    record = env.ledger.ledger_of(env.genesis)
    assert (record.root, record.total_weight, record.contributors, record.rounds, record.deposited, record.paid) == (
        commitment.root, 4, 3, 1, 0, 0)


def test_leaf_hash_matches_the_contract(env):
    contributor, payee = b"\x07" * 32, env.payees[0].address
    assert env.ledger.leaf_hash(contributor, payee, 5) == leaf_hash(contributor, payee, 5)


def test_commit_fails_if_not_the_job_server(env):
    commitment = LedgerCommitment.of(_ledger(env, (1,)))
    with pytest.raises(RegistryRevert, match=rf"ContributorLedgerNotTheJobServer\(genesis=0x{env.genesis.hex()}, "
                                             rf"caller={env.stranger.address}\)"):
        env.ledger.commit(env.stranger, env.genesis, commitment)


def test_commit_fails_if_already_committed(committed):
    env, commitment, _ = committed
    with pytest.raises(RegistryRevert, match=rf"ContributorLedgerAlreadyCommitted\(genesis=0x{env.genesis.hex()}\)"):
        env.ledger.commit(env.server, env.genesis, commitment)


def test_commit_fails_if_rounds_are_not_anchored(env):
    commitment = LedgerCommitment.of(_ledger(env, (1,), rounds=2))
    with pytest.raises(RegistryRevert, match=rf"ContributorLedgerRoundsNotAnchored\(genesis=0x{env.genesis.hex()}, "
                                             r"rounds=2, anchored=1\)"):
        env.ledger.commit(env.server, env.genesis, commitment)


def test_commit_fails_if_the_commitment_is_empty(env):
    for root, weight, count in ((b"\0" * 32, 4, 3), (b"\1" * 32, 0, 3), (b"\1" * 32, 4, 0)):
        with pytest.raises(RegistryRevert, match=rf"ContributorLedgerInvalidCommitment\(root=0x{root.hex()}, "
                                                 rf"totalWeight={weight}, contributors={count}\)"):
            env.ledger.commit_raw(env.server, env.genesis, root, weight, count, 1)


def test_deposit_fails_if_zero_or_the_ledger_is_unknown(committed):
    env, *_ = committed
    with pytest.raises(RegistryRevert, match=rf"ContributorLedgerZeroDeposit\(genesis=0x{env.genesis.hex()}\)"):
        env.ledger.deposit(env.funder, env.genesis, 0)
    other = b"\x55" * 32
    with pytest.raises(RegistryRevert, match=rf"ContributorLedgerUnknownLedger\(genesis=0x{other.hex()}\)"):
        env.ledger.deposit(env.funder, other, 10)


def test_claim_pays_the_share_and_records_attribution(committed):
    env, commitment, _ = committed
    tx = env.ledger.deposit(env.funder, env.genesis, 1001)
    (event,) = tx.named("FeesDeposited")
    assert event.args == {"genesis": env.genesis, "from": env.funder.address, "amount": 1001, "totalDeposited": 1001}
    entry, proof = commitment.proof(commitment.ledger.entries[0].contributor)
    before = env.chain.w3.eth.get_balance(env.payees[0].address)
    # Execute: payee 0 (weight 2 of 4) claims floor(1001 * 2 / 4) = 500.
    tx = env.ledger.claim(env.payees[0], env.genesis, entry.contributor, entry.weight, proof)
    # Assert: events, balance (net of gas), attribution and the ledger's books.
    assert tx.named("AttributionRecorded")[0].args == {"genesis": env.genesis, "contributor": entry.contributor,
                                                       "payee": env.payees[0].address, "rounds": 2}
    assert tx.named("Claimed")[0].args == {"genesis": env.genesis, "contributor": entry.contributor,
                                           "payee": env.payees[0].address, "amount": 500}
    receipt = env.chain.w3.eth.get_transaction_receipt(tx.tx_hash)
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert env.chain.w3.eth.get_balance(env.payees[0].address) == before + 500 - gas
    assert env.ledger.attribution(env.genesis, entry.contributor) == 2
    assert env.ledger.claimed(env.genesis, entry.contributor) == 500
    assert env.ledger.ledger_of(env.genesis).paid == 500


def test_claim_fails_twice_with_nothing_to_claim(committed):
    env, commitment, _ = committed
    env.ledger.deposit(env.funder, env.genesis, 40)
    entry, proof = commitment.proof(commitment.ledger.entries[1].contributor)
    env.ledger.claim(env.payees[1], env.genesis, entry.contributor, entry.weight, proof)
    with pytest.raises(RegistryRevert, match=rf"ContributorLedgerNothingToClaim\(genesis=0x{env.genesis.hex()}, "
                                             rf"contributor=0x{entry.contributor.hex()}\)"):
        env.ledger.claim(env.payees[1], env.genesis, entry.contributor, entry.weight, proof)


def test_claim_fails_with_invalid_proof(committed):
    env, commitment, _ = committed
    env.ledger.deposit(env.funder, env.genesis, 40)
    entry, proof = commitment.proof(commitment.ledger.entries[1].contributor)
    for payee, rounds, siblings in (
        (env.payees[1], entry.weight, [b"\x13" * 32, *proof[1:]]),  # a wrong proof
        (env.payees[1], 3, proof),  # inflated rounds
        (env.stranger, entry.weight, proof),  # not the payee: a leaked proof pays nobody else
    ):
        with pytest.raises(RegistryRevert, match=rf"ContributorLedgerInvalidProof\(genesis=0x{env.genesis.hex()}, "
                                                 rf"contributor=0x{entry.contributor.hex()}, payee={payee.address}, "
                                                 rf"rounds={rounds}\)"):
            env.ledger.claim(payee, env.genesis, entry.contributor, rounds, siblings)


def test_attest_records_attribution_without_payment(committed):
    env, commitment, _ = committed
    entry, proof = commitment.proof(commitment.ledger.entries[2].contributor)
    tx = env.ledger.attest(env.stranger, env.genesis, entry, proof)  # anyone may show a public leaf
    assert [e.name for e in tx.events] == ["AttributionRecorded"]
    assert env.ledger.attribution(env.genesis, entry.contributor) == 1
    assert env.ledger.claimed(env.genesis, entry.contributor) == 0
    assert env.ledger.attest(env.stranger, env.genesis, entry, proof).events == ()  # recorded once


def test_ledger_never_pays_more_than_was_deposited(env):
    # Prepare: a server commits total weight 2 for leaves summing to 3 (a wrong commitment).
    ledger = _ledger(env, (2, 1))
    commitment = LedgerCommitment.of(ledger)
    env.ledger.commit_raw(env.server, env.genesis, commitment.root, 2, 2, 1)
    env.ledger.deposit(env.funder, env.genesis, 10)
    first, first_proof = commitment.proof(ledger.entries[0].contributor)
    env.ledger.claim(env.payees[0], env.genesis, first.contributor, 2, first_proof)  # takes all 10
    second, second_proof = commitment.proof(ledger.entries[1].contributor)
    with pytest.raises(RegistryRevert, match=rf"ContributorLedgerInsufficientFunds\(genesis=0x{env.genesis.hex()}, "
                                             r"owed=5, available=0\)"):
        env.ledger.claim(env.payees[1], env.genesis, second.contributor, 1, second_proof)


def test_split_of_odd_deposits_matches_exact_shares(env):
    # Prepare: 6 contributors of co-prime weights; three odd deposits with claims in between.
    weights = (1, 2, 3, 5, 7, 11)
    ledger = _ledger(env, weights)
    commitment = LedgerCommitment.of(ledger)
    env.ledger.commit(env.server, env.genesis, commitment)
    paid = [0] * len(weights)
    total, held = 0, env.chain.w3.eth.get_balance(env.ledger.address)  # the contract serves other tests' jobs too
    for deposit, claimers in ((997, (0, 3)), (1, (3,)), (123457, range(len(weights)))):
        env.ledger.deposit(env.funder, env.genesis, deposit)
        total += deposit
        for i in claimers:
            entry, proof = commitment.proof(ledger.entries[i].contributor)
            if env.ledger.claimable(env.genesis, entry.contributor, entry.weight) == 0:
                continue
            tx = env.ledger.claim(env.payees[i], env.genesis, entry.contributor, entry.weight, proof)
            paid[i] += tx.named("Claimed")[0].args["amount"]
    # Assert: each got exactly floor(D w_i / W) of D = 124455, whatever the claim times; the rest stays.
    W = sum(weights)  # noqa: N806 - the paper's symbol
    exact = [Fraction(total * w, W) for w in weights]
    assert paid == [int(x) for x in exact]
    assert sum(paid) <= total and total - sum(paid) < len(weights)
    assert env.chain.w3.eth.get_balance(env.ledger.address) == held + total - sum(paid)
    record = env.ledger.ledger_of(env.genesis)
    assert (record.deposited, record.paid) == (total, sum(paid))


# ---- reentrancy ------------------------------------------------------------------------------------
ATTACKER_SOURCE = """// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @dev TEST ONLY: a payee whose receive() re-enters the ledger's claim once and records how that call ended.
contract ReentrantPayee {
    address public immutable ledger;
    bytes public claimCall;
    bool public reentered;
    bool public reentryOk;
    bytes public reentryError;

    constructor(address ledger_) {
        ledger = ledger_;
    }

    /// @dev Calls the ledger with `data` (a `claim`), remembering it for the re-entry; bubbles a revert up.
    function attack(bytes calldata data) external {
        claimCall = data;
        (bool ok, bytes memory ret) = ledger.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    receive() external payable {
        if (!reentered) {
            reentered = true;
            (reentryOk, reentryError) = ledger.call(claimCall);
        }
    }
}
"""

ATTACKER_ABI = json.loads(
    '[{"inputs":[{"internalType":"address","name":"ledger_","type":"address"}],"stateMutability":"nonpayable"'
    ',"type":"constructor"},{"inputs":[{"internalType":"bytes","name":"data","type":"bytes"}],"name":"attack"'
    ',"outputs":[],"stateMutability":"nonpayable","type":"function"},{"inputs":[],"name":"claimCall","outputs'
    '":[{"internalType":"bytes","name":"","type":"bytes"}],"stateMutability":"view","type":"function"},{"inpu'
    'ts":[],"name":"ledger","outputs":[{"internalType":"address","name":"","type":"address"}],"stateMutabilit'
    'y":"view","type":"function"},{"inputs":[],"name":"reentered","outputs":[{"internalType":"bool","name":""'
    ',"type":"bool"}],"stateMutability":"view","type":"function"},{"inputs":[],"name":"reentryError","outputs'
    '":[{"internalType":"bytes","name":"","type":"bytes"}],"stateMutability":"view","type":"function"},{"inpu'
    'ts":[],"name":"reentryOk","outputs":[{"internalType":"bool","name":"","type":"bool"}],"stateMutability":'
    '"view","type":"function"},{"stateMutability":"payable","type":"receive"}]'
)
ATTACKER_BYTECODE = "0x" + (
    "60a034607457601f61083c38819003918201601f19168301916001600160401b0383118484101760785780849260209460405283"
    "3981010312607457516001600160a01b03811681036074576080526040516107af908161008d82396080518181816102bd015281"
    "816103bb01526106f30152f35b5f80fd5b634e487b7160e01b5f52604160045260245ffdfe60806040526004361015610022575b"
    "3615610018575f80fd5b6100206106a7565b005b5f3560e01c80632f45d32c146100815780633095c0571461007c5780633f0977"
    "5e1461007757806356397c35146100725780639c6c77931461006d5763ca6ddc2f0361000e5761040f565b6103ea565b6103a656"
    "5b610384565b610201565b346100ac575f3660031901126100ac576100a861009c610123565b604051918291826101d7565b0390"
    "f35b5f80fd5b90600182811c921680156100de575b60208310146100ca57565b634e487b7160e01b5f52602260045260245ffd5b"
    "91607f16916100bf565b634e487b7160e01b5f52604160045260245ffd5b90601f8019910116810190811067ffffffffffffffff"
    "82111761011e57604052565b6100e8565b6040515f815f5491610134836100b0565b80835292600181169081156101b857506001"
    "1461015b575b610158925003826100fc565b90565b505f80805290917f290decd9548b62a8d60345a988386fc84ba6bc95484008"
    "f6362f93160ef3e5635b81831061019c5750509060206101589282010161014c565b602091935080600191548385880101520191"
    "0190918392610184565b6020925061015894915060ff191682840152151560051b82010161014c565b6020604092818352805191"
    "82918282860152018484015e5f828201840152601f01601f1916010190565b346100ac5760203660031901126100ac5760043567"
    "ffffffffffffffff81116100ac57366023820112156100ac5780600401359067ffffffffffffffff82116100ac57366024838301"
    "01116100ac576024019067ffffffffffffffff811161011e57610276816102715f546100b0565b6104d9565b5f601f8211600114"
    "61030157905f926102a68280869586916102f6575b508160011b915f199060031b1c19161790565b83555b6102b8604051809381"
    "93610577565b0390827f00000000000000000000000000000000000000000000000000000000000000005af16102e6610584565b"
    "90156102ee57005b602081519101fd5b90508301355f610293565b5f8052601f198216907f290decd9548b62a8d60345a988386f"
    "c84ba6bc95484008f6362f93160ef3e563915f5b81811061036c5750915f94918486959410610353575b5050600182811b018355"
    "6102a9565b841960f88560031b161c19908301351690555f80610344565b9192602060018192868901358155019401920161032e"
    "565b346100ac575f3660031901126100ac57602060ff600154166040519015158152f35b346100ac575f3660031901126100ac57"
    "6040517f00000000000000000000000000000000000000000000000000000000000000006001600160a01b03168152602090f35b"
    "346100ac575f3660031901126100ac57602060ff60015460081c166040519015158152f35b346100ac575f3660031901126100ac"
    "576040515f60025461042f816100b0565b80845290600181169081156104b55750600114610457575b6100a88361009c81850382"
    "6100fc565b60025f9081527f405787fa12a823e0f2b7631cc41b3ba8828b3321ca811111fa75cd3aa3bb5ace939250905b808210"
    "61049b5750909150810160200161009c610447565b919260018160209254838588010152019101909291610483565b60ff191660"
    "208086019190915291151560051b8401909101915061009c9050610447565b601f81116104e5575050565b5f805260205f209060"
    "20601f840160051c8301931061051e575b601f0160051c01905b818110610513575050565b5f8155600101610508565b90915081"
    "906104ff565b601f821161053557505050565b5f5260205f20906020601f840160051c8301931061056d575b601f0160051c0190"
    "5b818110610562575050565b5f8155600101610557565b909150819061054e565b908092918237015f815290565b3d156105be57"
    "3d9067ffffffffffffffff821161011e57604051916105b3601f8201601f1916602001846100fc565b82523d5f602084013e565b"
    "606090565b90815167ffffffffffffffff811161011e576105eb816105e46002546100b0565b6002610528565b602092601f8211"
    "60011461062b5761061b929382915f92610620575b50508160011b915f199060031b1c19161790565b600255565b015190505f80"
    "610607565b60025f52601f198216937f405787fa12a823e0f2b7631cc41b3ba8828b3321ca811111fa75cd3aa3bb5ace915f5b86"
    "811061068f5750836001959610610677575b505050811b01600255565b01515f1960f88460031b161c191690555f808061066c56"
    "5b91926020600181928685015181550194019201610659565b60015460ff8116156106b65750565b60019060ff19161760015560"
    "40515f5f546106d0816100b0565b906001811690811561078d575060011461073f575b505f8261073d9382930390827f00000000"
    "000000000000000000000000000000000000000000000000000000005af161072461071f610584565b6105c3565b61ff00600154"
    "91151560081b169061ff00191617600155565b565b90505f80527f290decd9548b62a8d60345a988386fc84ba6bc95484008f636"
    "2f93160ef3e5635f905b82821061077957505081015f6106e5565b600181602092548487015201910190610768565b60ff191684"
    "525080151502820190505f6106e556fea164736f6c634300081c000a"
)


def _deploy_attacker(env):
    factory = env.chain.w3.eth.contract(abi=ATTACKER_ABI, bytecode=ATTACKER_BYTECODE)
    receipt = env.chain.send(env.stranger, factory.constructor(env.ledger.address).build_transaction(
        {"from": env.stranger.address}))
    return env.chain.w3.eth.contract(address=receipt["contractAddress"], abi=ATTACKER_ABI)


def test_reentrant_payee_is_paid_once(env):
    # Prepare: the attacker contract is the payee of a weight-1 leaf beside an honest weight-1 leaf.
    attacker = _deploy_attacker(env)
    evil = ContributorEntry(b"\xee" * 32, (0,), bytes.fromhex(attacker.address[2:]))
    honest = ContributorEntry(b"\x11" * 32, (0,), bytes.fromhex(env.payees[0].address[2:]))
    commitment = LedgerCommitment.of(ContributorLedger(1, (evil, honest)))
    env.ledger.commit(env.server, env.genesis, commitment)
    env.ledger.deposit(env.funder, env.genesis, 1000)
    _, proof = commitment.proof(evil.contributor)
    claim = env.ledger.contract.functions.claim(env.genesis, evil.contributor, 1, proof)._encode_transaction_data()
    # Execute: attack() claims; receive() re-enters claim with the same arguments.
    env.chain.send(env.stranger, attacker.functions.attack(claim).build_transaction({"from": env.stranger.address}))
    # Assert: paid exactly its share once; the re-entry reverted with OpenZeppelin's guard error.
    assert env.chain.w3.eth.get_balance(attacker.address) == 500
    assert attacker.functions.reentered().call() is True and attacker.functions.reentryOk().call() is False
    selector = function_signature_to_4byte_selector("ReentrancyGuardReentrantCall()")
    assert bytes(attacker.functions.reentryError().call()) == selector
    assert env.ledger.claimed(env.genesis, evil.contributor) == 500
    assert env.ledger.ledger_of(env.genesis).paid == 500
    # The honest contributor's half is intact, and a second attack finds nothing to claim.
    entry, honest_proof = commitment.proof(honest.contributor)
    env.ledger.claim(env.payees[0], env.genesis, entry.contributor, 1, honest_proof)
    assert env.ledger.ledger_of(env.genesis).paid == 1000
    with pytest.raises(Exception) as again:  # noqa: B017 - web3 and eth-tester raise unrelated types
        env.chain.send(env.stranger, attacker.functions.attack(claim).build_transaction({"from": env.stranger.address}))
    error = decode_revert(env.ledger.abi, revert_data_of(again.value))
    assert (error.error_name, error.values["contributor"]) == ("ContributorLedgerNothingToClaim", "0x" + "ee" * 32)
    assert env.chain.w3.eth.get_balance(attacker.address) == 500
