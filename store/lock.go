package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrLocked is returned when another process holds a lock.
var ErrLocked = errors.New("held by another process")

// ErrWrongUser is returned when a command runs as a user other than the database file's owner
// (root excepted: it hands the files it creates to the owner).
var ErrWrongUser = errors.New("run as the database's owner")

// ErrUnsafeLockFile is returned for a lock file that is a symbolic link, not a regular file, or has
// other names (hard links): following it could overwrite some other file.
var ErrUnsafeLockFile = errors.New("unsafe lock file")

// geteuid is os.Geteuid; tests stand in for another user.
var geteuid = os.Geteuid

// Lock is an exclusive advisory lock on a file beside the database. The kernel drops it when the
// process dies, so a crash never leaves a stale lock.
type Lock struct {
	f    *os.File
	path string
}

// lockPath names the lock file of kind ("run" or "scan") for the database at dbPath.
func lockPath(dbPath, kind string) string { return dbPath + "." + kind + ".lock" }

// pidWidth is the fixed width of the pid written into a lock file, so it is overwritten in place and
// the file never needs truncating.
const pidWidth = 12

// owner is the owner of an existing database file.
type owner struct{ uid, gid int }

// dbOwner returns the owner of the database file at path; ok is false when it does not exist yet.
func dbOwner(path string) (o owner, ok bool, err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return owner{}, false, nil
	}
	if err != nil {
		return owner{}, false, err
	}
	st, isUnix := fi.Sys().(*syscall.Stat_t)
	if !isUnix {
		return owner{}, false, nil
	}
	return owner{uid: int(st.Uid), gid: int(st.Gid)}, true, nil
}

// checkOwner refuses to work on the database at path as a user other than its owner (root may: the
// files it creates are handed to the owner). It returns the owner when the file exists.
func checkOwner(path string) (o owner, ok bool, err error) {
	o, ok, err = dbOwner(path)
	if err != nil || !ok {
		return o, ok, err
	}
	if me := geteuid(); me != 0 && me != o.uid {
		return o, ok, fmt.Errorf("%w: %s is owned by %s but this command runs as %s; run it as %s (e.g. sudo -u %s ...)",
			ErrWrongUser, path, describeUser(o.uid), describeUser(me), describeUser(o.uid), userName(o.uid))
	}
	return o, ok, nil
}

// describeUser says "uid 1000 (ada)", or "uid 1000" when the name is unknown.
func describeUser(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("uid %d (%s)", uid, u.Username)
	}
	return fmt.Sprintf("uid %d", uid)
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "#" + strconv.Itoa(uid)
}

// TryLock takes the lock of kind for the database at dbPath or fails at once with ErrLocked, naming
// the process that holds it. The lock file is opened without following a symbolic link and never
// truncated; it belongs to the database file's owner (a command run as root hands it over), and a
// command run as another user is refused with ErrWrongUser.
func TryLock(dbPath, kind string) (*Lock, error) {
	p := lockPath(dbPath, kind)
	o, haveOwner, err := checkOwner(dbPath)
	if err != nil {
		return nil, fmt.Errorf("%s lock: %w", kind, err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ELOOP):
			return nil, fmt.Errorf("%s lock %s: %w: it is a symbolic link; remove it", kind, p, ErrUnsafeLockFile)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("%s lock %s: %w (a problem of file ownership, not another renewald): %s; remove it or give it to the database's owner", kind, p, fs.ErrPermission, describeFile(p))
		}
		return nil, fmt.Errorf("%s lock: %w", kind, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s lock %s: %w", kind, p, err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || (st != nil && st.Nlink > 1) {
		f.Close()
		return nil, fmt.Errorf("%s lock %s: %w: not a regular file with one name (%s); remove it", kind, p, ErrUnsafeLockFile, fi.Mode())
	}
	if haveOwner && st != nil && (int(st.Uid) != o.uid || int(st.Gid) != o.gid) && geteuid() == 0 {
		if err := f.Chown(o.uid, o.gid); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s lock %s: give it to the database's owner: %w", kind, p, err)
		}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := make([]byte, pidWidth)
		n, _ := f.ReadAt(holder, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s lock %s: %w (pid %s)", kind, p, ErrLocked, strings.TrimSpace(string(holder[:n])))
		}
		return nil, fmt.Errorf("%s lock %s: %w", kind, p, err)
	}
	if _, err := f.WriteAt(fmt.Appendf(nil, "%-*d\n", pidWidth-1, os.Getpid()), 0); err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("%s lock %s: %w", kind, p, err)
	}
	return &Lock{f: f, path: p}, nil
}

// describeFile names the owner and mode of the file at p, for permission errors.
func describeFile(p string) string {
	fi, err := os.Lstat(p)
	if err != nil {
		return err.Error()
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("owned by %s, mode %s, this command runs as %s", describeUser(int(st.Uid)), fi.Mode().Perm(), describeUser(geteuid()))
	}
	return fi.Mode().String()
}

// WaitLock takes the lock of kind, retrying while another process holds it, until ctx ends.
func WaitLock(ctx context.Context, dbPath, kind string, poll time.Duration) (*Lock, error) {
	for {
		l, err := TryLock(dbPath, kind)
		if !errors.Is(err, ErrLocked) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %w", err)
		case <-time.After(poll):
		}
	}
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	err := l.f.Close()
	l.f = nil
	return err
}
