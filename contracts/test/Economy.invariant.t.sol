// SPDX-License-Identifier: Apache-2.0
// PHA is conserved across the whole economy at once: one handler drives Jobs
// (requests, fulfilments, refunds: fees into escrow, then owed to the
// operator's pool), StakePool (delegation, unbonding, withdrawals, claims, fee
// collection, equivocation slashes to the reporter and the treasury),
// Payments (deposits, vouchers redeemed to the operator, withdraw notices and
// withdrawals), trigger firings recorded by Jobs and charged to the contract
// owner's Payments deposit (one of the payers: firings and vouchers draw on
// one balance) into the operator's fees, and governance issuance (the token's governor mints into the
// timelock, which is the treasury). foundry.toml: 256 runs, depth 32.
//
// Two properties, both checked after every call:
//   - every PHA is held by an address we know: the actors' balances, Jobs,
//     StakePool, Payments and the timelock treasury add up to totalSupply (a
//     transfer to anyone else, or a mint or burn nobody accounted for, fails);
//   - each contract holds what its own books say it owes: Jobs the fees of
//     pending requests plus the fees owed to pools, Payments its payers'
//     balances, StakePool its stake plus all claimable rewards (plus at most
//     the rounding dust its accumulator leaves, a few wei per distribution).
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {Vm} from "./Vm.sol";
import {StakePool} from "../StakePool.sol";
import {PhxToken} from "../PhxToken.sol";
import {Jobs} from "../Jobs.sol";
import {Payments} from "../Payments.sol";
import {PhxTimelock} from "../PhxTimelock.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IFiringPayments} from "../IPhx.sol";

contract EconomyHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 constant WORKER_SK = 0xD00D;

    PhxToken public token;
    StakePool public stake;
    Jobs public jobs;
    Payments public pay;
    address public treasury;
    uint256 public pid;
    address public operator;
    address public worker;
    bytes32 public contractId;
    bytes32 public codeHash;
    address[4] public delegators; // the operator first
    uint256[3] public payerKeys = [uint256(0xA11CE), 0xB0B, 0xCAB];
    address public requester = address(0x5EE);
    address public reporter = address(0xBAD1);
    mapping(address => uint256) public signed; // payer => highest cumulative signed to the operator
    uint256 nextRid = 1_000_000; // equivocation proofs: ids no request uses
    uint256 public distributions; // fee batches split by the accumulator (dust bound)
    uint256 public calls;
    uint256 public firings; // recorded, each charged exactly the price
    uint256 public firingsCharged; // what the owner's deposit lost to them
    uint256 public unpaid; // refused for a short deposit
    uint256 nextFiring;

    constructor(
        PhxToken token_,
        StakePool stake_,
        Jobs jobs_,
        Payments pay_,
        address treasury_,
        uint256 pid_,
        address operator_,
        address worker_,
        bytes32 contractId_,
        bytes32 codeHash_
    ) {
        token = token_;
        stake = stake_;
        jobs = jobs_;
        pay = pay_;
        treasury = treasury_;
        pid = pid_;
        operator = operator_;
        worker = worker_;
        contractId = contractId_;
        codeHash = codeHash_;
        delegators = [operator_, address(0xA1), address(0xA2), address(0xA3)];
        for (uint256 i = 0; i < 4; i++) {
            vm.prank(delegators[i]);
            token.approve(address(stake), type(uint256).max);
        }
        for (uint256 i = 0; i < 3; i++) {
            vm.prank(vm.addr(payerKeys[i]));
            token.approve(address(pay), type(uint256).max);
        }
        vm.prank(requester);
        token.approve(address(jobs), type(uint256).max);
    }

    function holders() external view returns (address[] memory h) {
        h = new address[](14);
        for (uint256 i = 0; i < 4; i++) h[i] = delegators[i];
        for (uint256 i = 0; i < 3; i++) h[4 + i] = vm.addr(payerKeys[i]);
        h[7] = requester;
        h[8] = reporter;
        h[9] = worker;
        h[10] = address(jobs);
        h[11] = address(stake);
        h[12] = address(pay);
        h[13] = treasury;
    }

    function payer(uint256 i) external view returns (address) {
        return vm.addr(payerKeys[i]);
    }

    // ---- Jobs --------------------------------------------------------------------

    function request(uint8 k) external {
        calls++;
        vm.prank(requester);
        try jobs.request(contractId, "{}", 10 ether, 0, k % 2 == 0 ? 1 : 2) {} catch {}
    }

    /// The worker fulfils the oldest request it can (k = 2 ones it cannot alone:
    /// they wait for their deadline and a refund).
    function fulfill(uint256 seed, bool ok) external {
        calls++;
        uint256 n = jobs.requestCount();
        if (n == 0) return;
        uint256 rid = 1 + seed % n;
        bytes memory output = abi.encode(seed);
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(WORKER_SK, jobs.resultDigest(rid, contractId, codeHash, ok, keccak256(output)));
        bytes[] memory sigs = new bytes[](1);
        sigs[0] = abi.encodePacked(r, s, v);
        vm.prank(worker);
        try jobs.fulfill(rid, ok, output, sigs) {
            distributions++;
        } catch {}
    }

    /// A worker's signed firing of the contract: recorded and charged the
    /// price when the owner's deposit covers it, refused (nothing moves) when not.
    function fire(bool ok) external {
        calls++;
        bytes32 fid = keccak256(abi.encode("firing", nextFiring++));
        bytes memory output = abi.encode(fid);
        bytes memory s = _sig(jobs.firingDigest(contractId, fid, codeHash, ok, keccak256(output)));
        (address owner,,,) = jobs.contracts(contractId);
        (uint256 before,,) = pay.accounts(owner);
        uint256 owed = jobs.feesOwed(operator);
        uint256 price = pay.pricePerCall();
        try jobs.recordFiring(contractId, fid, codeHash, ok, output, s) {
            (uint256 left,,) = pay.accounts(owner);
            require(before - left == price, "a firing costs the owner exactly the price");
            require(jobs.feesOwed(operator) - owed == price, "and the operator's pool is owed it");
            firings++;
            firingsCharged += price;
        } catch (bytes memory why) {
            require(jobs.firedBy(contractId, fid) == address(0), "a refused firing is not recorded");
            if (bytes4(why) == Payments.InsufficientBalance.selector) {
                require(before < price, "a deposit that covers the price does not refuse");
                unpaid++;
            } else {
                require(bytes4(why) == Jobs.UnregisteredSigner.selector, "refused for another reason");
            }
        }
    }

    function refund(uint256 seed) external {
        calls++;
        uint256 n = jobs.requestCount();
        if (n == 0) return;
        vm.warp(block.timestamp + 601);
        try jobs.refund(1 + seed % n) {} catch {}
    }

    // ---- StakePool ------------------------------------------------------------------

    function delegate(uint256 who, uint256 amount) external {
        calls++;
        address a = delegators[who % 4];
        uint256 have = token.balanceOf(a);
        if (have < stake.MIN_DELEGATION()) return;
        amount = stake.MIN_DELEGATION() + amount % (have - stake.MIN_DELEGATION() + 1);
        vm.prank(a);
        try stake.delegate(pid, amount) {
            distributions++; // delegating collects owed fees first
        } catch {}
    }

    function undelegate(uint256 who, uint256 shares) external {
        calls++;
        address a = delegators[who % 4];
        (uint256 have,,,,) = stake.delegations(pid, a);
        if (have == 0) return;
        vm.prank(a);
        stake.undelegate(pid, 1 + shares % have);
        distributions++;
    }

    function withdraw(uint256 who) external {
        calls++;
        address a = delegators[who % 4];
        (,,, uint256 queued, uint64 readyAt) = stake.delegations(pid, a);
        if (queued == 0) return;
        if (block.timestamp < readyAt) vm.warp(readyAt);
        vm.prank(a);
        stake.withdraw(pid);
    }

    function claim(uint256 who) external {
        calls++;
        vm.prank(delegators[who % 4]);
        stake.claim(pid);
        distributions++;
    }

    function collect() external {
        calls++;
        stake.collect(pid);
        distributions++;
    }

    function addReward(uint256 who, uint256 amount) external {
        calls++;
        address a = delegators[who % 4];
        amount = amount % (token.balanceOf(a) + 1);
        vm.prank(a);
        stake.addReward(operator, amount);
        distributions++;
    }

    function slash() external {
        calls++;
        uint256 rid = nextRid++;
        bytes32 a = keccak256(abi.encode("a", rid));
        bytes32 b = keccak256(abi.encode("b", rid));
        bytes memory sa = _sig(jobs.resultDigest(rid, contractId, codeHash, true, a));
        bytes memory sb = _sig(jobs.resultDigest(rid, contractId, codeHash, true, b));
        vm.prank(reporter);
        stake.reportEquivocation(worker, rid, contractId, codeHash, true, a, sa, true, b, sb);
        distributions++;
    }

    // ---- Payments ---------------------------------------------------------------------

    function deposit(uint256 who, uint256 amount) external {
        calls++;
        address p = vm.addr(payerKeys[who % 3]);
        uint256 have = token.balanceOf(p);
        if (have == 0) return;
        vm.prank(p);
        pay.deposit(1 + amount % have);
    }

    function spend(uint256 who, uint256 amount) external {
        calls++;
        uint256 sk = payerKeys[who % 3];
        address p = vm.addr(sk);
        uint256 c = signed[p] + amount % 50 ether;
        signed[p] = c;
        Payments.Voucher[] memory vs = new Payments.Voucher[](1);
        vs[0].payer = p;
        vs[0].operator = operator;
        vs[0].cumulative = c;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(sk, pay.voucherDigest(p, operator, c, 0));
        vs[0].signature = abi.encodePacked(r, s, v);
        pay.redeem(vs);
    }

    function requestWithdraw(uint256 who, uint256 amount) external {
        calls++;
        address p = vm.addr(payerKeys[who % 3]);
        (uint256 bal,,) = pay.accounts(p);
        if (bal == 0) return;
        vm.prank(p);
        pay.requestWithdraw(1 + amount % bal);
    }

    function withdrawPayments(uint256 who) external {
        calls++;
        address p = vm.addr(payerKeys[who % 3]);
        (,, uint64 readyAt) = pay.accounts(p);
        if (readyAt == 0) return;
        if (block.timestamp < readyAt) vm.warp(readyAt);
        vm.prank(p);
        pay.withdraw();
    }

    // ---- governance ------------------------------------------------------------------

    /// Issuance by governance: new PHA goes to the treasury (the timelock).
    function mint(uint256 amount) external {
        calls++;
        token.mint(treasury, amount % 1000 ether);
    }

    function wait(uint256 secs) external {
        calls++;
        vm.warp(block.timestamp + secs % 8 days);
    }

    function _sig(bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(WORKER_SK, digest);
        return abi.encodePacked(r, s, v);
    }
}

contract EconomyInvariantTest is Fixture {
    EconomyHandler handler;
    Payments pay;
    PhxTimelock timelock;
    uint256 pid;

    function setUp() public {
        deployAll();
        pay = new Payments(IERC20(address(token)), 0.001 ether, 1e12, 1 days);
        address[] memory none = new address[](0);
        timelock = new PhxTimelock(2, none, none, address(this));
        // The treasury is the timelock, as on a devnet after the hand-over.
        stake.setParams(address(timelock), UNBONDING, 1000, 5000);
        jobs.setStakePool(stake);
        vm.prank(operator);
        pid = stake.createPool(1500);
        fund(operator, MIN_STAKE);
        vm.prank(operator);
        stake.delegate(pid, MIN_STAKE);
        address worker = registerWorker();
        // Slashes must not invalidate the worker, or only the first one counts
        // and no request is ever fulfilled after it.
        registry.setStaking(address(0));
        bytes32 codeHash = keccak256("code");
        // Firings are charged to the contract's owner, the first payer.
        jobs.setPayments(IFiringPayments(address(pay)));
        pay.setJobs(address(jobs));
        vm.prank(vm.addr(0xA11CE));
        bytes32 cid = jobs.deployContract(bytes32(0), codeHash, "");
        handler = new EconomyHandler(token, stake, jobs, pay, address(timelock), pid, operator, worker, cid, codeHash);
        token.setGovernor(address(handler));
        // Everything this contract holds goes out to the actors: from here on
        // only the handler's actors and the contracts hold PHA.
        address[] memory h = handler.holders();
        uint256 each = token.balanceOf(address(this)) / 8;
        for (uint256 i = 0; i < 4; i++) token.transfer(h[i], each);
        for (uint256 i = 4; i < 7; i++) token.transfer(h[i], each);
        token.transfer(handler.requester(), token.balanceOf(address(this)));
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// Every PHA is held by an address we know, the supply included.
    function invariant_phaConservedAcrossAllHolders() public view {
        address[] memory h = handler.holders();
        uint256 sum;
        for (uint256 i = 0; i < h.length; i++) sum += token.balanceOf(h[i]);
        assertEq(sum, token.totalSupply(), "balances + escrow + pool + payments + treasury == supply");
        assertEq(token.balanceOf(address(this)), 0, "the test holds nothing");
        assertEq(token.balanceOf(address(handler)), 0, "the handler holds nothing");
    }

    /// Every recorded firing cost its owner exactly the price (the price is
    /// not changed in this run), and some were recorded.
    function invariant_firingsPaidExactlyThePrice() public view {
        assertEq(handler.firingsCharged(), handler.firings() * pay.pricePerCall(), "firings x price charged");
    }

    /// Each contract holds exactly (StakePool: at least, by its dust) what its
    /// books owe.
    function invariant_contractsHoldTheirBooks() public view {
        // Jobs: the fees of pending requests, and what it owes the pools.
        uint256 escrow = jobs.feesOwed(operator);
        uint256 n = jobs.requestCount();
        for (uint256 i = 1; i <= n; i++) {
            (, uint8 status,,,,,,, uint256 fee) = jobs.requests(i);
            if (status == 1) escrow += fee;
        }
        assertEq(token.balanceOf(address(jobs)), escrow, "Jobs holds pending fees + fees owed");
        // Payments: its payers' balances.
        uint256 accounts;
        for (uint256 i = 0; i < 3; i++) {
            (uint256 b,,) = pay.accounts(handler.payer(i));
            accounts += b;
        }
        assertEq(token.balanceOf(address(pay)), accounts, "Payments holds its payers' balances");
        // StakePool: stake and all claimable rewards (fees still in Jobs aside).
        StakePool.Pool memory p = stake.pool(pid);
        uint256 owed = p.totalStake;
        for (uint256 i = 0; i < 4; i++) owed += stake.pendingRewards(pid, handler.delegators(i));
        uint256 uncollected = stake.uncollectedFees(pid);
        uint256 held = token.balanceOf(address(stake));
        assertTrue(held + uncollected >= owed, "StakePool can pay all stake and rewards");
        // Rounding leaves at most a few wei per call unowed.
        assertTrue(held + uncollected <= owed + 8 * (handler.calls() + 1), "StakePool dust bounded");
    }
}
