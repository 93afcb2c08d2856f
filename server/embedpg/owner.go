package embedpg

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// owner is the OS account that owns the cluster's files and runs its programs.
type owner struct {
	name     string
	uid, gid int
	gids     []int               // every group of the account, for the traversal check
	cred     *syscall.Credential // nil: the programs run as this process does
}

// lookupOwner returns this process's own account, or the postgres user when running as
// root, since PostgreSQL refuses to run as root.
func lookupOwner() (owner, error) {
	if os.Geteuid() != 0 {
		name := strconv.Itoa(os.Geteuid())
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		return owner{name: name, uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup(superuser)
	if err != nil {
		return owner{}, fmt.Errorf("hzel runs as root, so PostgreSQL must run as the %q OS user, "+
			"which cannot be found (%w): create it (useradd --system --user-group %s), run hzel "+
			"as an ordinary user, or set DATABASE_URL", superuser, err, superuser)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return owner{}, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return owner{}, fmt.Errorf("user %s: gid %q: %w", u.Username, u.Gid, err)
	}
	o := owner{name: u.Username, uid: uid, gid: gid, gids: []int{gid}}
	// The programs get the user's supplementary groups too, as after a login (ssl-cert, say).
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	groups, err := u.GroupIds()
	if err != nil {
		return owner{}, fmt.Errorf("groups of user %s: %w", u.Username, err)
	}
	for _, g := range groups {
		n, err := strconv.Atoi(g)
		if err != nil {
			return owner{}, fmt.Errorf("user %s: gid %q: %w", u.Username, g, err)
		}
		o.gids = append(o.gids, n)
		cred.Groups = append(cred.Groups, uint32(n))
	}
	o.cred = cred
	return o, nil
}

// switched reports whether the cluster runs as another account than this process.
func (o owner) switched() bool { return o.cred != nil }

// chown gives path to the owner when the cluster runs as another account.
func (o owner) chown(path string) error {
	if !o.switched() {
		return nil
	}
	return os.Lchown(path, o.uid, o.gid)
}

// canSearch reports whether the owner may pass through the directory fi, by the classic
// rule: the owner bits apply to the owning user even when others are granted more.
func (o owner) canSearch(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	switch {
	case int(st.Uid) == o.uid:
		return perm&0o100 != 0
	case slices.Contains(o.gids, int(st.Gid)):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// command prepares one of the PostgreSQL programs to run as the cluster's owner.
func (c *Cluster) command(ctx context.Context, program string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin.dir, program), args...)
	// Our own working directory may be one the postgres user cannot enter.
	cmd.Dir = "/"
	cmd.Env = serverEnv(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: c.owner.cred,
		// A Ctrl-C in the terminal must reach hzel alone, which cancels ctx and shuts down
		// in order, rather than PostgreSQL under hzel's open connections.
		Setpgid: true,
	}
	// Ends the wait for output should a killed pg_ctl leave a child holding its pipes.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// serverEnv drops PG* variables from env: they describe the user's other PostgreSQL
// (PGDATA, PGPORT, PGHOST...), not this private cluster.
func serverEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "PG")
	})
}
