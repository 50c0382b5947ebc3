"""Alarms: rules over task metrics that fire and resolve, and the webhooks they call.

The rule definition and the event value are domain values (`ksync.domain.alarms`,
shared with the API and the store); this package runs them:

* `snapshot` -- what a rule sees of a task, and how a metric is read from it;
* `evaluation` -- the pure evaluation of a rule against tasks (fire, hold, resolve);
* `messages` -- the sentences of events and the JSON a webhook receives;
* `webhook_policy`, `webhooks`, `delivery` -- where webhooks may go, the dispatcher that
  sends them on threads of its own, and how a stored event's outcomes are recorded;
* `job` -- `AlarmEvaluator`, the controller's periodic job around all of it.
* `test_budget` -- how many test events a rule may send a minute.
"""
