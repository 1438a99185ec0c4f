// Package architecture holds no code: its test checks that every package
// imports only what the table in docs/architecture.md allows, so the
// direction observe -> graph -> synth -> verify -> cli cannot rot unseen.
package architecture
