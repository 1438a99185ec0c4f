// Package diff shows what applying proposed policies would change, before
// anyone applies them: per object, a unified diff against the policies in
// force (the live cluster after a server-side dry-run, or a directory of
// manifests), and per observed connection, the verdict Cilium's policy
// engine gives under the current policies and under the proposed ones.
//
// Policies present now but not proposed are listed, never deleted: an
// apply of the proposed files leaves them in force, so the semantic diff
// evaluates the proposed files on top of them.
package diff
