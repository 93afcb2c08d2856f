package embedpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// defaultVersionRoot holds one directory per installed major version, as Debian and Ubuntu
// lay them out (/usr/lib/postgresql/15/bin), usually not on PATH.
const defaultVersionRoot = "/usr/lib/postgresql"

// ErrNotInstalled means that no PostgreSQL server programs (initdb, pg_ctl, postgres) were
// found, so the embedded cluster cannot run.
var ErrNotInstalled = errors.New("PostgreSQL server programs (initdb, pg_ctl, postgres) not found")

// binDir is a directory holding the PostgreSQL server programs.
type binDir struct {
	dir     string
	version string // major version, as in PG_VERSION: "15", or "9.6" before PostgreSQL 10
}

// findBinDirs lists the directories that hold the server programs, best first: override
// (PG_BINDIR) alone when set; otherwise pg_ctl's directory on PATH, then the versioned
// directories under versionRoot, newest version first.
func findBinDirs(override, versionRoot string) ([]string, error) {
	if override != "" {
		dir, err := filepath.Abs(override)
		if err != nil {
			return nil, fmt.Errorf("PG_BINDIR %s: %w", override, err)
		}
		if missing := missingPrograms(dir); len(missing) > 0 {
			return nil, fmt.Errorf("%w in PG_BINDIR %s (no %s): point PG_BINDIR at the bin directory of "+
				"a PostgreSQL installation, install PostgreSQL (e.g. apt-get install postgresql), "+
				"or set DATABASE_URL", ErrNotInstalled, dir, strings.Join(missing, ", "))
		}
		return []string{dir}, nil
	}

	var dirs []string
	if path, err := exec.LookPath("pg_ctl"); err == nil {
		// Take pg_ctl's siblings from the installation it links to: a PATH directory often
		// holds links to a few of the programs only.
		if real, err := filepath.EvalSymlinks(path); err == nil {
			if dir := filepath.Dir(real); len(missingPrograms(dir)) == 0 {
				dirs = append(dirs, dir)
			}
		}
	}
	for _, dir := range versionedDirs(versionRoot) {
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w on PATH or in %s/*/bin: install PostgreSQL (e.g. apt-get install "+
			"postgresql) or set DATABASE_URL to use an existing server", ErrNotInstalled, versionRoot)
	}
	return dirs, nil
}

// versionedDirs returns root/<version>/bin for every installed version, newest first.
func versionedDirs(root string) []string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	type installed struct {
		version []int
		dir     string
	}
	var found []installed
	for _, e := range entries {
		version, ok := parseVersion(e.Name())
		if !ok {
			continue
		}
		dir := filepath.Join(root, e.Name(), "bin")
		if len(missingPrograms(dir)) == 0 {
			found = append(found, installed{version, dir})
		}
	}
	// Numerically, so that 10 comes after 9.6.
	slices.SortFunc(found, func(a, b installed) int { return -slices.Compare(a.version, b.version) })
	dirs := make([]string, len(found))
	for i, f := range found {
		dirs[i] = f.dir
	}
	return dirs
}

// parseVersion reads a version directory name such as "15" or "9.6".
func parseVersion(name string) ([]int, bool) {
	var version []int
	for part := range strings.SplitSeq(name, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		version = append(version, n)
	}
	return version, true
}

// missingPrograms names the server programs that dir lacks.
func missingPrograms(dir string) []string {
	var missing []string
	for _, program := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, program))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			missing = append(missing, program)
		}
	}
	return missing
}

// chooseBinDir picks the first of dirs whose major version is want, the version of the
// existing cluster, or simply the first when there is no cluster yet. A server cannot open a
// cluster of another major version, and a newer PostgreSQL installed beside the old one
// (as apt does) must not make hzel's data unreadable.
func chooseBinDir(ctx context.Context, dirs []string, want, dataDir string) (binDir, error) {
	var found []string
	for _, dir := range dirs {
		version, err := programVersion(ctx, dir)
		if err != nil {
			return binDir{}, err
		}
		if want == "" || version == want {
			return binDir{dir: dir, version: version}, nil
		}
		found = append(found, fmt.Sprintf("%s in %s", version, dir))
	}
	return binDir{}, fmt.Errorf("the cluster in %s was made by PostgreSQL %s, but only PostgreSQL %s "+
		"was found: install PostgreSQL %s (and set PG_BINDIR to its bin directory), upgrade the cluster "+
		"with pg_upgrade, or set DATABASE_URL", dataDir, want, strings.Join(found, ", "), want)
}

// programVersion asks pg_ctl in dir for its major version.
func programVersion(ctx context.Context, dir string) (string, error) {
	pgCtl := filepath.Join(dir, "pg_ctl")
	out, err := exec.CommandContext(ctx, pgCtl, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", pgCtl, err)
	}
	version, ok := majorVersion(string(out))
	if !ok {
		return "", fmt.Errorf("%s --version: cannot read the version in %q", pgCtl, strings.TrimSpace(string(out)))
	}
	return version, nil
}

// majorVersion finds the major version in a --version line such as
// "pg_ctl (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)" or "pg_ctl (PostgreSQL) 17beta1",
// spelled as PG_VERSION spells it.
func majorVersion(line string) (string, bool) {
	_, after, ok := strings.Cut(line, "(PostgreSQL) ")
	if !ok {
		return "", false
	}
	end := strings.IndexFunc(after, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	if end >= 0 {
		after = after[:end]
	}
	parts := strings.Split(after, ".")
	major, err := strconv.Atoi(parts[0])
	if err != nil {
		return "", false
	}
	// Before PostgreSQL 10, the major version had two parts.
	if major < 10 {
		if len(parts) < 2 || parts[1] == "" {
			return "", false
		}
		return parts[0] + "." + parts[1], true
	}
	return strconv.Itoa(major), true
}
