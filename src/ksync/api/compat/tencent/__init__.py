"""Tencent Cloud CKafka API face (version 2019-08-19): TC3-signed `POST /` and `/ckafka`.

Code written against the official SDK (`tencentcloud-sdk-python-ckafka`) drives ksync with
no change but the endpoint and the credentials:

* `signature`  — TC3-HMAC-SHA256 verification against the server's API keys;
* `endpoint`   — the route: authenticate, dispatch `X-TC-Action`, answer `{"Response"}`;
* `params`     — reading parameters by the SDK's names, refusing what is not honoured;
* `resources`  — `*ConnectResource*`: connect resources are ksync instances;
* `datahub`    — `*DatahubTask*`: DataHub tasks are ksync sync tasks;
* `flows`      — `DescribeTaskStatus`: how far a task's latest operation has come.
"""

from ksync.api.compat.tencent.endpoint import Auth, router
from ksync.api.compat.tencent.signature import ReplayCache

__all__ = ["Auth", "ReplayCache", "router"]
