// SPDX-License-Identifier: Apache-2.0
// The consumer side of the Phat starter kit's src/index.ts, on Phalanx: asks
// for a Lens profile's post count with the input the script decodes,
// abi.encode(uint id, string profileId), and decodes its reply,
// abi.encode(uint respType, uint id, uint256 data) (respType 0: data is the
// count; 2: data is an error code), as the starter kit's OracleConsumerContract
// does. The script's 0x hex-string return reaches Jobs as those raw bytes.
// Built on PhxConsumer: Jobs alone calls back, only for a request made here;
// a failed run (ok false) is kept as the error, never decoded.
pragma solidity ^0.8.24;

import {IERC20, IJobs} from "../../contracts/IPhx.sol";
import {PhxConsumer} from "../../contracts/PhxConsumer.sol";

contract LensStatsConsumer is PhxConsumer {
    uint256 public constant TYPE_RESPONSE = 0;
    uint256 public constant TYPE_ERROR = 2;

    address public immutable owner;
    bytes32 public immutable script; // the TEE contract id of index.ts's bundle
    uint256 public nextId = 1;
    mapping(uint256 => string) public profileOf; // asked, not answered yet
    mapping(string => uint256) public posts;
    uint256 public lastErrorCode;
    bytes public lastError;
    uint256 public answers;

    event StatsReceived(uint256 indexed id, string profileId, uint256 posts);
    event ErrorReceived(uint256 indexed id, uint256 code);
    event RunFailed(uint256 indexed requestId, bytes reason);

    error NotOwner();
    error UnknownId(uint256 id);

    constructor(IJobs jobs_, IERC20 token_, bytes32 script_) PhxConsumer(jobs_, token_) {
        owner = msg.sender;
        script = script_;
    }

    function request(string calldata profileId, uint256 maxFee) external returns (uint256 id) {
        if (msg.sender != owner) revert NotOwner();
        id = nextId++;
        profileOf[id] = profileId;
        _sendRequest(script, abi.encode(id, profileId), maxFee, 200_000, 1);
    }

    function _fulfill(uint256 requestId, bool ok, bytes calldata output) internal override {
        answers += 1;
        if (!ok) {
            lastError = output;
            emit RunFailed(requestId, output);
            return;
        }
        (uint256 respType, uint256 id, uint256 data) = abi.decode(output, (uint256, uint256, uint256));
        if (respType == TYPE_ERROR) {
            lastErrorCode = data;
            emit ErrorReceived(id, data);
            return;
        }
        string memory profileId = profileOf[id];
        if (bytes(profileId).length == 0) revert UnknownId(id);
        delete profileOf[id];
        posts[profileId] = data;
        emit StatsReceived(id, profileId, data);
    }
}
