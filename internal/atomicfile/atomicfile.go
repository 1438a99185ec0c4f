// Package atomicfile replaces a file so that a reader, a crash or a full
// disk leaves either the old content or the new, never a torn file.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// TempPattern is the name pattern of the temporary file Write creates
// beside path; a kill can leave one behind, and it never ends in the
// target's extension, so tools that read "*.json" or "*.yaml" skip it.
func TempPattern(path string) string {
	return "." + filepath.Base(path) + ".tmp-*"
}

// Error is a failed Write. The file at Path is exactly as it was before.
type Error struct {
	Path string
	// Existed says a previous file was there; it is still there, intact.
	Existed bool
	Err     error
}

func (e *Error) Error() string {
	if e.Existed {
		return fmt.Sprintf("%s: %v; the previous file is intact", e.Path, e.Err)
	}
	return fmt.Sprintf("%s: %v; no file was written", e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// WriteFile replaces path with data.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write replaces path with what produce writes: into a temporary file in
// the same directory (so the rename cannot cross filesystems), fsync,
// rename over path, fsync of the directory so the rename itself survives
// a power loss. Until the rename the old file is untouched; after it the
// new one is complete. On any error the temporary file is removed.
func Write(path string, perm fs.FileMode, produce func(io.Writer) error) error {
	return write(path, perm, produce, nil)
}

// write is Write with a hook that wraps the temporary file, so tests can
// inject the failures a real disk produces mid-write.
func write(path string, perm fs.FileMode, produce func(io.Writer) error, wrap func(io.Writer) io.Writer) error {
	p, err := prepare(path, perm, produce, wrap)
	if err != nil {
		return err
	}
	if err := p.Commit(); err != nil {
		return err
	}
	// The new file is in place; a failed directory sync only weakens
	// what survives a power loss, so it is reported, not undone.
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("%s: written, but %w", path, err)
	}
	return nil
}

// Pending is a new version of a file, complete and synced in a temporary
// file beside it, not yet in place: the first half of Write, for callers
// that replace several files and want every one written before any is
// renamed.
type Pending struct {
	path, tmp string
	done      bool
}

// Prepare writes what produce writes to a temporary file beside path and
// syncs it. Path itself is untouched until Commit. The new version gets
// perm, or the permission bits of the file it replaces.
func Prepare(path string, perm fs.FileMode, produce func(io.Writer) error) (*Pending, error) {
	return prepare(path, perm, produce, nil)
}

func prepare(path string, perm fs.FileMode, produce func(io.Writer) error, wrap func(io.Writer) io.Writer) (*Pending, error) {
	fail := func(err error) error {
		_, statErr := os.Lstat(path)
		return &Error{Path: path, Existed: statErr == nil, Err: cause(err)}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TempPattern(path))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fail(fmt.Errorf("create a temporary file in %s: %w", dir, err))
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var w io.Writer = tmp
	if wrap != nil {
		w = wrap(tmp)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := produce(bw); err != nil {
		return nil, fail(err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fail(err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		// A file someone restricted (a checkpoint names pods and
		// addresses) stays as restricted as it was.
		perm = fi.Mode().Perm()
	}
	if err := tmp.Chmod(perm); err != nil {
		return nil, fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fail(err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fail(err)
	}
	ok = true
	return &Pending{path: path, tmp: tmp.Name()}, nil
}

// Path is the file the pending version replaces.
func (p *Pending) Path() string { return p.path }

// Commit renames the new version over the file: one atomic step. The
// caller syncs the directory (SyncDir) once its renames are done.
func (p *Pending) Commit() error {
	if err := os.Rename(p.tmp, p.path); err != nil {
		_, statErr := os.Lstat(p.path)
		return &Error{Path: p.path, Existed: statErr == nil, Err: cause(err)}
	}
	p.done = true
	removeStale(p.path)
	return nil
}

// staleAfter is the age past which a temporary file beside a target is a
// leftover of a killed writer, not one still writing: a writer touches
// its file as it writes, and no write of netpolgen's takes an hour.
const staleAfter = time.Hour

// removeStale removes what killed writers left beside path (TempPattern
// files older than staleAfter), so a learner restarted again and again
// does not fill its directory. Failing to is not an error: the leftovers
// are hidden files no reader of the directory looks at.
func removeStale(path string) {
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)+".tmp-"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleAfter {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Discard removes the temporary file of a version not committed.
func (p *Pending) Discard() {
	if !p.done {
		os.Remove(p.tmp)
		p.done = true
	}
}

// SyncDir makes renames and removals in dir durable. Filesystems that
// cannot sync a directory (EINVAL) are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("fsync directory %s: %w", dir, cause(err))
	}
	return nil
}

// cause drops the temporary file's name from an *fs.PathError or
// *os.LinkError: the caller names the real file, and the temporary one
// is gone by the time anyone reads the message.
func cause(err error) error {
	switch e := err.(type) {
	case *fs.PathError:
		return fmt.Errorf("%s: %w", e.Op, e.Err)
	case *os.LinkError:
		return fmt.Errorf("%s: %w", e.Op, e.Err)
	}
	return err
}
