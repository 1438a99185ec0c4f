package synth

import (
	"os"
	"path/filepath"
	"testing"
)

// Learning-mode files in learn's output directory outlive a re-run, as a
// user's files do, while learn's own stale files go.
func TestWriteFilesKeepsLearningModeFiles(t *testing.T) {
	dir := t.TempDir()
	learning := filepath.Join(dir, "learning-mode", "shop", "visibility.yaml")
	stale := filepath.Join(dir, "shop", "gone.yaml")
	for p, data := range map[string]string{
		learning: "metadata:\n  labels:\n    " + ManagedByLabel + ": " + ManagedByValue + "\n    " + RoleLabel + ": " + RoleVisibility + "\n",
		stale:    "metadata:\n  labels:\n    " + ManagedByLabel + ": " + ManagedByValue + "\n",
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFiles(dir, []File{{Path: "shop/web.yaml", Data: []byte("kind: NetworkPolicy\n")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(learning); err != nil {
		t.Errorf("learning-mode file removed: %v", err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("learn's stale file kept")
	}
	if !IsVisibility(map[string]string{RoleLabel: RoleVisibility}) || IsVisibility(map[string]string{ManagedByLabel: ManagedByValue}) {
		t.Error("IsVisibility does not tell learning-mode policies apart")
	}
}
