package policydir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/netpolgen/netpolgen/internal/atomicfile"
)

// File is one generated file, its path slash-separated and relative to
// the policy directory.
type File struct {
	Path string
	Data []byte
}

// Result says what Replace changed, by relative path.
type Result struct {
	Written   []string // created or changed
	Removed   []string // netpolgen's files it no longer generates
	Unchanged int      // same bytes: left alone, mtime and all
}

// previousSuffix names the hidden copy of a file being replaced or
// removed, kept until the whole set is in place so a failure can put it
// back. It does not end in .yaml, so kubectl apply -R skips it.
const previousSuffix = ".netpolgen-previous"

// Replace makes the netpolgen-written part of dir exactly files: it writes
// new and changed files, removes the files netpolgen wrote before and no
// longer generates (the policy of a retired workload, the kustomization
// of a namespace gone), and leaves every other file alone: a file
// netpolgen did not write (see Managed) is never modified, and if one
// stands where a generated file must go, Replace changes nothing and says
// so. Hidden directories and nested policy directories of other runs
// (holding their own REPORT.md or netpolgen.* file) are not entered.
//
// What "atomic" means here, honestly: POSIX renames one file atomically,
// never a set. So Replace first writes every new file beside its target
// and syncs it; any failure there (a full disk, a kill, a permission)
// leaves the previous set byte-identical, with at most hidden temporary
// files a later run removes. Only then does it commit, with renames and
// no new data: each replaced or removed file is first hard-linked or
// renamed to a hidden backup, so an error during the commit puts the
// previous set back. The commit renames policies first, kustomizations
// deepest first, then removes retired files, and REPORT.md last, so at
// every instant each kustomization lists files that exist. A kill or
// power loss inside that short window can leave some files old and some
// new, each one whole; re-running learn completes the set.
func Replace(dir string, files []File) (Result, error) {
	return replacer{prepare: atomicfile.Prepare, commit: (*atomicfile.Pending).Commit}.replace(dir, files)
}

// Retired lists, by relative path, the files under dir that netpolgen
// wrote and that files no longer holds: what Replace(dir, files) would
// remove. A missing dir has none.
func Retired(dir string, files []File) ([]string, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	owned, _, err := scan(dir)
	if err != nil {
		return nil, fmt.Errorf("read policies in %s: %w", dir, err)
	}
	keep := map[string]bool{}
	for _, f := range files {
		keep[path.Clean(f.Path)] = true
	}
	var retired []string
	for _, rel := range owned {
		if !keep[rel] {
			retired = append(retired, rel)
		}
	}
	return retired, nil
}

// replacer holds the two steps tests inject failures into.
type replacer struct {
	prepare func(path string, perm fs.FileMode, produce func(io.Writer) error) (*atomicfile.Pending, error)
	commit  func(*atomicfile.Pending) error
}

// change is one step of the commit, with what undoes it.
type change struct {
	rel      string
	pending  *atomicfile.Pending // nil for a removal
	path     string
	backup   string // the previous file's hidden copy; "" when there was none
	done     bool
	isRemove bool
}

func (r replacer) replace(dir string, files []File) (res Result, err error) {
	shown := dir // as the user named it, for messages
	fail := func(err error) (Result, error) {
		return Result{}, fmt.Errorf("write policies to %s: %w", shown, err)
	}
	want := map[string][]byte{}
	for _, f := range files {
		rel := path.Clean(f.Path)
		if f.Path == "" || path.IsAbs(rel) || rel == "." || strings.HasPrefix(rel, "../") || rel == ".." {
			return fail(fmt.Errorf("generated file %q is not a path inside the directory", f.Path))
		}
		if _, dup := want[rel]; dup {
			return fail(fmt.Errorf("generated file %s twice", rel))
		}
		want[rel] = f.Data
	}
	var (
		changes []*change
		created []string // directories made for new files
	)
	defer func() {
		if err == nil {
			return
		}
		for _, c := range changes {
			if c.pending != nil {
				c.pending.Discard()
			}
		}
		slices.Reverse(created)
		for _, d := range created {
			os.Remove(d) // only if still empty
		}
	}()
	made, err := mkdirs("", filepath.Clean(dir))
	created = append(created, made...)
	if err != nil {
		return fail(err)
	}
	// A symbolic link to the directory is followed once, here, so the
	// walk below sees the real tree.
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	owned, leftovers, err := scan(dir)
	if err != nil {
		return fail(err)
	}
	for _, p := range leftovers {
		// Hidden files of an interrupted earlier run: its temporary
		// files and backups, which nothing reads.
		os.Remove(p)
	}

	// Check every target before touching anything.
	var toWrite []string
	for _, rel := range sortedKeys(want) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			toWrite = append(toWrite, rel)
			continue
		case err != nil:
			return fail(fmt.Errorf("%s: %w; nothing was changed", rel, unwrapPath(err)))
		case !fi.Mode().IsRegular():
			return fail(fmt.Errorf("%s is a %s, not a file netpolgen wrote; netpolgen never modifies what it did not write: move it away or choose another output directory. Nothing was changed", rel, kindOf(fi)))
		}
		old, err := os.ReadFile(p)
		if err != nil {
			return fail(fmt.Errorf("%s: %w; nothing was changed", rel, unwrapPath(err)))
		}
		if string(old) == string(want[rel]) {
			res.Unchanged++
			continue
		}
		if !Managed(rel, old) {
			return fail(fmt.Errorf("%s exists and netpolgen did not write it (it lacks the %s: %s label); netpolgen never modifies such files: move it away or choose another output directory. Nothing was changed",
				rel, ManagedByLabel, ManagedByValue))
		}
		toWrite = append(toWrite, rel)
	}
	var toRemove []string
	for _, rel := range owned {
		if _, keep := want[rel]; !keep {
			toRemove = append(toRemove, rel)
		}
	}

	// Stage: every new file complete and synced beside its target.
	for _, rel := range toWrite {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		made, err := mkdirs(dir, filepath.Dir(p))
		created = append(created, made...)
		if err != nil {
			return fail(fmt.Errorf("%s: %w; the previous policies are intact", rel, err))
		}
		data := want[rel]
		pending, err := r.prepare(p, 0o644, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		})
		if err != nil {
			return fail(fmt.Errorf("%w; the previous policies are intact", stripIntact(err)))
		}
		changes = append(changes, &change{rel: rel, pending: pending, path: p})
	}
	for _, rel := range toRemove {
		changes = append(changes, &change{rel: rel, path: filepath.Join(dir, filepath.FromSlash(rel)), isRemove: true})
	}
	slices.SortStableFunc(changes, commitOrder)

	// Commit: renames only, each undoable until the end.
	for _, c := range changes {
		if err := r.apply(c); err != nil {
			undoErr := undo(changes)
			msg := fmt.Sprintf("%s: %v; the previous policies were put back", c.rel, stripIntact(err))
			if undoErr != nil {
				msg = fmt.Sprintf("%s: %v; putting the previous policies back failed too: %v", c.rel, stripIntact(err), undoErr)
			}
			return fail(errors.New(msg))
		}
	}
	dirs := map[string]bool{dir: true}
	for _, c := range changes {
		dirs[filepath.Dir(c.path)] = true
		if c.backup != "" {
			os.Remove(c.backup)
		}
		if c.isRemove {
			res.Removed = append(res.Removed, c.rel)
		} else {
			res.Written = append(res.Written, c.rel)
		}
	}
	// A retired namespace's directory goes once empty; os.Remove leaves
	// a directory holding anything else.
	for _, d := range sortedKeys(dirs) {
		if d != dir && isEmptyDir(d) && os.Remove(d) == nil {
			delete(dirs, d)
			dirs[filepath.Dir(d)] = true
		}
	}
	for _, d := range sortedKeys(dirs) {
		if err := atomicfile.SyncDir(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("write policies to %s: written, but %w", shown, err)
		}
	}
	slices.Sort(res.Written)
	slices.Sort(res.Removed)
	return res, nil
}

// apply does one step of the commit, keeping the previous file as a
// hidden backup so undo can restore it.
func (r replacer) apply(c *change) error {
	backup := filepath.Join(filepath.Dir(c.path), "."+filepath.Base(c.path)+previousSuffix)
	if c.isRemove {
		if err := os.Rename(c.path, backup); err != nil {
			return err
		}
		c.backup, c.done = backup, true
		return nil
	}
	if _, err := os.Lstat(c.path); err == nil {
		os.Remove(backup)
		// A hard link keeps the previous bytes without copying them;
		// where links are not supported the file is replaced without
		// a way back, which only matters if a later rename fails.
		if os.Link(c.path, backup) == nil {
			c.backup = backup
		}
	}
	if err := r.commit(c.pending); err != nil {
		if c.backup != "" {
			os.Remove(c.backup)
			c.backup = ""
		}
		return err
	}
	c.done = true
	return nil
}

// undo reverses the committed steps, last first.
func undo(changes []*change) error {
	var errs []error
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		if !c.done {
			continue
		}
		switch {
		case c.backup != "":
			if err := os.Rename(c.backup, c.path); err != nil {
				errs = append(errs, err)
			}
		case !c.isRemove:
			// A file that did not exist before.
			if err := os.Remove(c.path); err != nil {
				errs = append(errs, err)
			}
		default:
			errs = append(errs, fmt.Errorf("%s: no copy of the previous file to restore", c.rel))
		}
	}
	return errors.Join(errs...)
}

// commitOrder: policies and other files first, then kustomizations
// deepest first, then removals (files before kustomizations, deepest
// first), and REPORT.md last, so every kustomization always lists files
// that exist and the report describes a set that is in place.
func commitOrder(a, b *change) int {
	rank := func(c *change) int {
		name := path.Base(c.rel)
		switch {
		case c.rel == ReportName:
			return 5
		case c.isRemove && isKustomization(name):
			return 4
		case c.isRemove:
			return 3
		case isKustomization(name):
			return 2
		}
		return 1
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	if da, db := strings.Count(a.rel, "/"), strings.Count(b.rel, "/"); da != db && isKustomization(path.Base(a.rel)) {
		return db - da
	}
	return strings.Compare(a.rel, b.rel)
}

// scan lists, by relative slash path, the files under dir netpolgen
// wrote, and the hidden leftovers of an interrupted run. It does not
// enter hidden directories or another run's policy directory nested
// inside, and skips symbolic links.
func scan(dir string) (owned, leftovers []string, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != dir && (strings.HasPrefix(name, ".") || nestedPolicyDir(p)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if isLeftover(name) {
			leftovers = append(leftovers, p)
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !isYAML(name) && name != ReportName && !strings.HasPrefix(name, "netpolgen.") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if Managed(rel, data) {
			owned = append(owned, rel)
		}
		return nil
	})
	return owned, leftovers, err
}

// nestedPolicyDir reports whether sub is the output directory of another
// netpolgen run: it holds netpolgen's REPORT.md or a netpolgen.* file.
func nestedPolicyDir(sub string) bool {
	entries, err := os.ReadDir(sub)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if name := e.Name(); e.Type().IsRegular() && (name == ReportName || strings.HasPrefix(name, "netpolgen.")) {
			if data, err := os.ReadFile(filepath.Join(sub, name)); err == nil && Managed(name, data) {
				return true
			}
		}
	}
	return false
}

// isLeftover matches the hidden files Replace and atomicfile make beside
// a file netpolgen writes: ".<name>.tmp-<n>" and ".<name>.netpolgen-previous".
func isLeftover(name string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	base := strings.TrimSuffix(name[1:], previousSuffix)
	if base == name[1:] {
		i := strings.LastIndex(base, ".tmp-")
		if i < 0 || strings.Trim(base[i+len(".tmp-"):], "0123456789") != "" || len(base) == i+len(".tmp-") {
			return false
		}
		base = base[:i]
	}
	return isYAML(base) || base == ReportName || strings.HasPrefix(base, "netpolgen.")
}

// mkdirs makes dir and its missing parents below root ("" for none),
// returning the ones it made, outermost first, so a failed run can
// remove them again.
func mkdirs(root, dir string) ([]string, error) {
	var missing []string
	for d := dir; d != root && d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	slices.Reverse(missing)
	var made []string
	for _, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil {
			return made, unwrapPath(err)
		}
		made = append(made, d)
	}
	return made, nil
}

func isEmptyDir(d string) bool {
	entries, err := os.ReadDir(d)
	return err == nil && len(entries) == 0
}

func kindOf(fi fs.FileInfo) string {
	switch {
	case fi.IsDir():
		return "directory"
	case fi.Mode()&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file"
}

// stripIntact drops atomicfile's own "previous file is intact" clause:
// Replace speaks for the whole set.
func stripIntact(err error) error {
	var ae *atomicfile.Error
	if errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", ae.Path, ae.Err)
	}
	return err
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
