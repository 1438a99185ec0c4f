package drift

import "github.com/netpolgen/netpolgen/internal/atomicfile"

// writeFileAtomic replaces path with data so a reader, a kill or a full
// disk sees the old file or the new one, never a torn one; the one
// implementation, shared with graph checkpoints, is internal/atomicfile.
func writeFileAtomic(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o644)
}
