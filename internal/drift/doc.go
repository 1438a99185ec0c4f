// Package drift keeps generated policy and live traffic in step after the
// policy is merged. A Runner follows Hubble (or a replay, or a capture),
// folds flows into the learned communication graph, and on every interval
// classifies that graph against the policy set through the same Cilium
// policy engine verify uses (verify.Check):
//
//   - uncovered: observed connections, including ones Hubble reports as
//     dropped, that the policies deny, each with the smallest policy
//     change that allows it, rendered by pkg/synth as YAML;
//   - stale: allow rules no observed connection exercised for StaleAfter,
//     measured in flow time so replayed captures are deterministic;
//   - unprotected: workloads, and whole namespaces, with traffic but no
//     policy selecting them.
//
// The report is written atomically as Markdown and JSON, each new or
// resolved finding is one structured log line, Prometheus metrics come
// from a private registry, and the learned state (graph, rule history,
// reported findings, gaps) is checkpointed so a restart forgets nothing.
// A broken Hubble stream, lost events and time drift was not running are
// recorded as gaps and shown in the report.
package drift
