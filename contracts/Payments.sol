// SPDX-License-Identifier: Apache-2.0
// Payments: paid off-chain (direct) calls through cumulative vouchers, a
// one-way payment channel per payer and operator. A payer deposits PHA; each
// direct call carries an EIP-712 voucher in which the payer signs the running
// total it owes one operator. The worker checks the voucher before it runs the
// call (off chain, with voucherDigest and coverable) and keeps only the latest
// one per payer; any time later anyone redeems the latest vouchers of many
// payers in one transaction, and the difference to what was already redeemed
// goes to the operator. A payer withdraws the unspent balance only after a
// notice period, during which outstanding vouchers still redeem: an operator
// that redeems at least once per notice period is never left unpaid by a
// withdrawal. The price (per call + per CPU-millisecond) is governed; the
// governor role is handed to the timelock like the other contracts'.
// Trigger firings (issue 15) are paid from the same deposit without a voucher:
// no owner is online to sign one per firing. Jobs, set by the governor, takes
// pricePerCall per recorded firing with chargeFiring and owes it to the
// recording worker's operator pool, as it does request fees.
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

contract Payments is EIP712 {
    using SafeERC20 for IERC20;

    // What a payer signs. callHash binds the voucher to one call (the worker
    // computes it from the request; on chain it is only part of the digest),
    // so a voucher seen in transit cannot be attached to another call.
    bytes32 public constant VOUCHER_TYPEHASH =
        keccak256("Voucher(address payer,address operator,uint256 cumulative,bytes32 callHash)");

    struct Account {
        uint256 balance; // deposited, not yet redeemed or withdrawn
        uint256 pending; // asked to withdraw
        uint64 readyAt; // when pending may leave (0: no request)
    }

    struct Voucher {
        address payer;
        address operator;
        uint256 cumulative; // total the payer owes the operator, ever
        bytes32 callHash;
        bytes signature; // ECDSA r||s||v, or ERC-1271 for a contract payer
    }

    IERC20 public immutable token;
    address public governor;
    uint256 public pricePerCall; // PHA wei per direct call
    uint256 public pricePerCpuMs; // PHA wei per CPU-millisecond of the run
    uint64 public noticePeriod; // seconds between asking to withdraw and withdrawing

    mapping(address => Account) public accounts;
    // payer => operator => cumulative amount already paid out
    mapping(address => mapping(address => uint256)) public redeemed;
    // The only caller of chargeFiring (zero: firings are charged to nobody).
    address public jobs;

    event GovernorChanged(address indexed previous, address indexed next);
    event PriceChanged(uint256 pricePerCall, uint256 pricePerCpuMs);
    event NoticePeriodChanged(uint64 noticePeriod);
    event Deposited(address indexed payer, address indexed from, uint256 amount, uint256 balance);
    event WithdrawRequested(address indexed payer, uint256 amount, uint64 readyAt);
    event Withdrawn(address indexed payer, uint256 amount, uint256 balance);
    event Redeemed(address indexed payer, address indexed operator, uint256 cumulative, uint256 paid);
    // A voucher of a batch that paid nothing: stale (1), bad signature (2), empty
    // account (3). The batch goes on: one payer cannot hold up the others.
    event VoucherSkipped(address indexed payer, address indexed operator, uint256 cumulative, uint8 reason);
    event JobsChanged(address indexed jobs);
    event FiringCharged(address indexed payer, uint256 amount, uint256 balance);

    error NotGovernor();
    error ZeroAddress();
    error ZeroAmount();
    error InsufficientBalance(uint256 balance, uint256 wanted);
    error NoWithdrawRequested();
    error NoticeNotOver(uint64 readyAt);
    error NotJobs();

    uint8 public constant SKIP_STALE = 1;
    uint8 public constant SKIP_BAD_SIGNATURE = 2;
    uint8 public constant SKIP_EMPTY = 3;

    constructor(IERC20 token_, uint256 pricePerCall_, uint256 pricePerCpuMs_, uint64 noticePeriod_)
        EIP712("Phalanx Payments", "1")
    {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
        governor = msg.sender;
        pricePerCall = pricePerCall_;
        pricePerCpuMs = pricePerCpuMs_;
        noticePeriod = noticePeriod_;
        emit PriceChanged(pricePerCall_, pricePerCpuMs_);
        emit NoticePeriodChanged(noticePeriod_);
    }

    modifier onlyGovernor() {
        if (msg.sender != governor) revert NotGovernor();
        _;
    }

    // ---- governance ------------------------------------------------------------

    function setGovernor(address next) external onlyGovernor {
        if (next == address(0)) revert ZeroAddress();
        emit GovernorChanged(governor, next);
        governor = next;
    }

    function setPrice(uint256 perCall, uint256 perCpuMs) external onlyGovernor {
        pricePerCall = perCall;
        pricePerCpuMs = perCpuMs;
        emit PriceChanged(perCall, perCpuMs);
    }

    function setNoticePeriod(uint64 secs) external onlyGovernor {
        noticePeriod = secs;
        emit NoticePeriodChanged(secs);
    }

    /// The Jobs contract whose recorded firings are charged here.
    function setJobs(address jobs_) external onlyGovernor {
        jobs = jobs_;
        emit JobsChanged(jobs_);
    }

    // ---- payers ------------------------------------------------------------------

    function deposit(uint256 amount) external {
        depositFor(msg.sender, amount);
    }

    /// Anyone may fund a payer's account (a faucet, a sponsor).
    function depositFor(address payer, uint256 amount) public {
        if (payer == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        token.safeTransferFrom(msg.sender, address(this), amount);
        Account storage a = accounts[payer];
        a.balance += amount;
        emit Deposited(payer, msg.sender, amount, a.balance);
    }

    /// Start the notice period for amount; a new request replaces the old one
    /// with a fresh clock. Vouchers keep redeeming from the balance meanwhile.
    function requestWithdraw(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Account storage a = accounts[msg.sender];
        if (amount > a.balance) revert InsufficientBalance(a.balance, amount);
        a.pending = amount;
        a.readyAt = uint64(block.timestamp) + noticePeriod;
        emit WithdrawRequested(msg.sender, amount, a.readyAt);
    }

    /// After the notice: what was asked for, or what redemptions left of it.
    function withdraw() external returns (uint256 amount) {
        Account storage a = accounts[msg.sender];
        if (a.readyAt == 0) revert NoWithdrawRequested();
        if (block.timestamp < a.readyAt) revert NoticeNotOver(a.readyAt);
        amount = a.pending < a.balance ? a.pending : a.balance;
        a.pending = 0;
        a.readyAt = 0;
        a.balance -= amount;
        emit Withdrawn(msg.sender, amount, a.balance);
        if (amount != 0) token.safeTransfer(msg.sender, amount);
    }

    // ---- operators -----------------------------------------------------------------

    /// Pay out the latest vouchers: each pays its operator what it adds to what
    /// was already redeemed for that payer and operator, as far as the payer's
    /// balance goes (what is short stays owed: the same voucher pays the rest
    /// after a new deposit). Anyone may send it; the money goes to the operators
    /// the vouchers name. Consecutive vouchers for one operator share a transfer.
    function redeem(Voucher[] calldata vouchers) external returns (uint256 total) {
        address to;
        uint256 owed;
        for (uint256 i = 0; i < vouchers.length; i++) {
            Voucher calldata v = vouchers[i];
            uint256 paid = _redeemOne(v);
            if (paid == 0) continue;
            total += paid;
            if (v.operator != to) {
                if (owed != 0) token.safeTransfer(to, owed);
                to = v.operator;
                owed = 0;
            }
            owed += paid;
        }
        if (owed != 0) token.safeTransfer(to, owed);
    }

    function _redeemOne(Voucher calldata v) internal returns (uint256 paid) {
        uint256 done = redeemed[v.payer][v.operator];
        if (v.cumulative <= done || v.operator == address(0)) {
            emit VoucherSkipped(v.payer, v.operator, v.cumulative, SKIP_STALE);
            return 0;
        }
        bytes32 digest = voucherDigest(v.payer, v.operator, v.cumulative, v.callHash);
        if (!SignatureChecker.isValidSignatureNow(v.payer, digest, v.signature)) {
            emit VoucherSkipped(v.payer, v.operator, v.cumulative, SKIP_BAD_SIGNATURE);
            return 0;
        }
        Account storage a = accounts[v.payer];
        paid = v.cumulative - done;
        if (paid > a.balance) paid = a.balance;
        if (paid == 0) {
            emit VoucherSkipped(v.payer, v.operator, v.cumulative, SKIP_EMPTY);
            return 0;
        }
        a.balance -= paid;
        redeemed[v.payer][v.operator] = done + paid;
        emit Redeemed(v.payer, v.operator, v.cumulative, paid);
    }

    // ---- trigger firings -------------------------------------------------------------

    /// One recorded firing of a contract payer owns: pricePerCall from its
    /// balance to Jobs (which owes it to the recording operator's pool). A
    /// withdrawal notice does not stop it, as it does not stop vouchers: what
    /// is charged meanwhile lowers what the withdrawal can take. A short
    /// balance reverts, and with it the record: an unpaid firing is not recorded.
    function chargeFiring(address payer) external returns (uint256 amount) {
        if (msg.sender != jobs) revert NotJobs();
        amount = pricePerCall;
        if (amount == 0) return 0;
        Account storage a = accounts[payer];
        uint256 balance = a.balance;
        if (amount > balance) revert InsufficientBalance(balance, amount);
        a.balance = balance - amount;
        emit FiringCharged(payer, amount, balance - amount);
        token.safeTransfer(msg.sender, amount);
    }

    // ---- views (what the worker checks before it runs a call) ----------------------

    /// The EIP-712 digest the payer signs (domain "Phalanx Payments", "1",
    /// this chain, this contract).
    function voucherDigest(address payer, address operator, uint256 cumulative, bytes32 callHash)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, payer, operator, cumulative, callHash)));
    }

    /// The highest cumulative total for this operator the account can pay today:
    /// what is left plus what this operator already took.
    function coverable(address payer, address operator) external view returns (uint256) {
        return accounts[payer].balance + redeemed[payer][operator];
    }

    /// What one call of cpuMs CPU-milliseconds costs.
    function price(uint256 cpuMs) external view returns (uint256) {
        return pricePerCall + pricePerCpuMs * cpuMs;
    }
}
